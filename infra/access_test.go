package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestAccessesFollowTheCode derives, from the source, the AWS actions each
// function can reach: the store and keyring methods its package and its
// Lambda main call, closed over the calls between store methods, down to
// the SDK operations (and the item kinds of each transaction). Accesses must
// grant exactly those: a new store call fails here until the policy follows,
// and a grant no code path needs fails too.
func TestAccessesFollowTheCode(t *testing.T) {
	store := analyze(t, filepath.Join("..", "shared", "store"))
	signing := analyze(t, filepath.Join("..", "shared", "signing"))

	// What a store method needs: its SDK operations, transitively.
	var storeOps func(name string, seen map[string]bool) []string
	storeOps = func(name string, seen map[string]bool) []string {
		if seen[name] {
			return nil
		}
		seen[name] = true
		f := store[name]
		if f == nil {
			return nil
		}
		ops := slices.Clone(f.ops)
		for _, c := range f.calls {
			ops = append(ops, storeOps(c, seen)...)
		}
		return ops
	}
	// What a keyring function needs: the store methods behind its Source,
	// named with recv ("" for the Store's own signing-key methods,
	// "KeySecret." for another key set's secret).
	var signingOps func(name, recv string, seen map[string]bool) []string
	signingOps = func(name, recv string, seen map[string]bool) []string {
		if seen[name] {
			return nil
		}
		seen[name] = true
		f := signing[name]
		if f == nil {
			return nil
		}
		var ops []string
		for _, op := range f.ops {
			if m, ok := strings.CutPrefix(op, "src."); ok {
				ops = append(ops, storeOps(recv+m, map[string]bool{})...)
			}
		}
		for _, c := range f.calls {
			ops = append(ops, signingOps(c, recv, seen)...)
		}
		return ops
	}

	var exported []string
	for name := range store {
		if ast.IsExported(name) {
			exported = append(exported, name)
		}
	}
	storeCall := regexp.MustCompile(`\.(` + strings.Join(exported, "|") + `)\(`)
	keyringCall := regexp.MustCompile(`\b(?:signing\.New|signing\.Start|\.Rotate|\.EnsureKey)\(`)
	permissionKeysCall := regexp.MustCompile(`permissions\.Setup\([^)]*\.PermissionRequestKeys\(\)`)

	for _, fn := range Functions {
		t.Run(fn, func(t *testing.T) {
			var src strings.Builder
			for _, dir := range []string{filepath.Join("..", "functions", fn), filepath.Join("..", "functions", fn, "lambda")} {
				files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
				for _, f := range files {
					if strings.HasSuffix(f, "_test.go") {
						continue
					}
					b, err := os.ReadFile(f)
					if err != nil {
						t.Fatal(err)
					}
					src.Write(b)
				}
			}
			var ops []string
			for _, m := range storeCall.FindAllStringSubmatch(src.String(), -1) {
				ops = append(ops, storeOps(m[1], map[string]bool{})...)
			}
			for _, m := range keyringCall.FindAllString(src.String(), -1) {
				entry := "New"
				switch {
				case strings.Contains(m, "Start"):
					entry = "Start" // the key set read in the background
				case strings.Contains(m, "Rotate"):
					entry = "Keyring.Rotate"
				case strings.Contains(m, "EnsureKey"):
					entry = "Keyring.EnsureKey"
				}
				ops = append(ops, signingOps(entry, "", map[string]bool{})...)
			}
			// The permission-request key set (permissions.Setup on
			// st.PermissionRequestKeys(): signing.NewRequestSigner, a
			// keyring on that KeySecret).
			var permOps []string
			if permissionKeysCall.MatchString(src.String()) {
				permOps = signingOps("New", "KeySecret.", map[string]bool{})
			}
			ops = append(ops, permOps...)
			need := map[string]bool{}
			for _, op := range ops {
				if a := iamAction(op); a != "" {
					need[a] = true
				}
			}
			a := Accesses[fn]
			granted := map[string]bool{}
			for _, l := range [][]string{a.Table, a.LinkSecrets, a.SigningKeys, a.PermissionKeys, a.IDPSecrets} {
				for _, x := range l {
					granted[x] = true
				}
			}
			if a.QueryIndex {
				granted["dynamodb:Query"] = true
			}
			t.Logf("%s reaches %v", fn, keys(need))
			if got, want := keys(granted), keys(need); !slices.Equal(got, want) {
				t.Errorf("granted %v, want what the code reaches: %v", got, want)
			}
			permNeed := map[string]bool{}
			for _, op := range permOps {
				if a := iamAction(op); a != "" {
					permNeed[a] = true
				}
			}
			permGranted := map[string]bool{}
			for _, x := range a.PermissionKeys {
				permGranted[x] = true
			}
			if got, want := keys(permGranted), keys(permNeed); !slices.Equal(got, want) {
				t.Errorf("permission-request keys: granted %v, want what the code reaches: %v", got, want)
			}
		})
	}
}

// iamAction maps an SDK operation (or a transaction item kind) to its IAM
// action; "" for TransactWriteItems itself, which IAM authorizes per item.
func iamAction(op string) string {
	switch op {
	case "db.TransactWriteItems":
		return ""
	case "item.Put":
		return "dynamodb:PutItem"
	case "item.Update":
		return "dynamodb:UpdateItem"
	case "item.Delete":
		return "dynamodb:DeleteItem"
	case "item.ConditionCheck":
		return "dynamodb:ConditionCheckItem"
	}
	if m, ok := strings.CutPrefix(op, "db."); ok {
		return "dynamodb:" + m
	}
	if m, ok := strings.CutPrefix(op, "sm."); ok {
		return "secretsmanager:" + m
	}
	return ""
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// fn is what one function or method of a package does directly.
type fn struct {
	ops   []string // "db.GetItem", "sm.CreateSecret", "src.GetSigningKeys", "item.Put"
	calls []string // functions and methods of the same package it calls
}

// analyze reads the non-test files of dir and returns, per function
// ("Name") or method ("Name" for *Store, "Keyring.Name" for other
// receivers), the calls it makes on the fields db, sm and src, the kinds of
// types.TransactWriteItem it builds, and the package's functions it calls.
func analyze(t *testing.T, dir string) map[string]*fn {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files in %s: %v", dir, err)
	}
	out := map[string]*fn{}
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			name := fd.Name.Name
			if fd.Recv != nil {
				if r := recvType(fd.Recv.List[0].Type); r != "Store" {
					name = r + "." + name
				}
			}
			info := &fn{}
			out[name] = info
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				switch x := n.(type) {
				case *ast.CallExpr:
					sel, ok := x.Fun.(*ast.SelectorExpr)
					if !ok {
						if id, ok := x.Fun.(*ast.Ident); ok {
							info.calls = append(info.calls, id.Name)
						}
						return true
					}
					switch inner := sel.X.(type) {
					case *ast.SelectorExpr: // s.db.GetItem, k.src.GetSigningKeys
						if f := inner.Sel.Name; f == "db" || f == "sm" || f == "src" {
							info.ops = append(info.ops, f+"."+sel.Sel.Name)
						}
					case *ast.Ident: // s.helper(...), k.load(...)
						// Any value's method: kept when the package has a
						// function or a Keyring method of that name (an
						// over-approximation, which is safe for IAM).
						info.calls = append(info.calls, sel.Sel.Name, "Keyring."+sel.Sel.Name)
					}
				case *ast.CompositeLit:
					if sel, ok := x.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "TransactWriteItem" {
						for _, e := range x.Elts {
							if kv, ok := e.(*ast.KeyValueExpr); ok {
								if k, ok := kv.Key.(*ast.Ident); ok {
									info.ops = append(info.ops, "item."+k.Name)
								}
							}
						}
					}
					// Elements of a []types.TransactWriteItem literal.
					if at, ok := x.Type.(*ast.ArrayType); ok {
						if sel, ok := at.Elt.(*ast.SelectorExpr); ok && sel.Sel.Name == "TransactWriteItem" {
							for _, e := range x.Elts {
								if cl, ok := e.(*ast.CompositeLit); ok {
									for _, e := range cl.Elts {
										if kv, ok := e.(*ast.KeyValueExpr); ok {
											if k, ok := kv.Key.(*ast.Ident); ok {
												info.ops = append(info.ops, "item."+k.Name)
											}
										}
									}
								}
							}
						}
					}
				}
				return true
			})
		}
	}
	return out
}

// recvType is "Store" for (s *Store).
func recvType(e ast.Expr) string {
	if s, ok := e.(*ast.StarExpr); ok {
		e = s.X
	}
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}
