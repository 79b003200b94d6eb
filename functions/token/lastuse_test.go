package token

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
)

func TestLastUse(t *testing.T) { testLastUse(t, newEnv(t, nil)) }

// testLastUse: a code exchange records the last use of the link and of the
// user's grant (under the token function's write policy: the handler's
// store refuses every other prefix); a refresh within the hour costs no
// call at all (the instance remembers); one an hour later records again; a
// failing record is logged and never fails the request.
func testLastUse(t *testing.T, e *env) {
	ctx := context.Background()
	first := e.exchange(e.code(codeOpts{}))
	at := e.clock.Now()
	grantID, _ := claims(t, first.AccessToken)["grant_id"].(string)
	link := store.LastUseRef{ClientID: confID}
	grant := store.LastUseRef{ClientID: confID, UserID: e.aliceID, GrantID: grantID}
	check := func(when string, want time.Time) {
		t.Helper()
		got, err := e.st.LastUses(ctx, []store.LastUseRef{link, grant})
		if err != nil {
			t.Fatal(err)
		}
		if !got[link].Equal(want) || !got[grant].Equal(want) {
			t.Errorf("%s: last use of the link %v and of the grant %v, want %v for both", when, got[link], got[grant], want)
		}
	}
	if n := e.calls.touched(); n != 2 {
		t.Errorf("the first exchange: %d last-use writes, want 2 (the link and the grant)", n)
	}
	check("after the exchange", at)

	e.clock.Add(10 * time.Minute)
	second := e.ok(e.refresh(first.RefreshToken, nil))
	if n := e.calls.touched(); n != 2 {
		t.Errorf("a refresh 10 minutes later: %d last-use calls in all, want still 2 (none within the hour)", n)
	}
	check("after a refresh within the hour", at)

	e.clock.Add(time.Hour)
	third := e.ok(e.refresh(second.RefreshToken, nil))
	if n := e.calls.touched(); n != 4 {
		t.Errorf("a refresh 70 minutes later: %d last-use calls in all, want 4", n)
	}
	check("after a refresh an hour later", e.clock.Now())

	e.clock.Add(2 * time.Hour)
	e.calls.setFail("TouchLastUse", errors.New("dynamodb down"))
	e.ok(e.refresh(third.RefreshToken, nil))
	if !strings.Contains(e.logs.String(), "last use not recorded") {
		t.Error("a failed last-use write was not logged")
	}
	e.noSecretsLogged(first.RefreshToken, second.RefreshToken, third.RefreshToken, shared.HashToken(third.RefreshToken))
}
