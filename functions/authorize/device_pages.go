package authorize

// The pages of the device flow (device.go), in the look of the others: their
// messages and data here, their markup in device_pages.templ.

// Messages of the code form.
const (
	msgDeviceMalformed = "Enter the 8 letters your device shows, for example BCDF-GHJK."
	msgDeviceWrong     = "That code is not right, or it has expired or been used. Check the code on your device and try again."
	msgDeviceExpired   = "This form expired. Enter the code again."
)

// The plain pages of the device flow.
var (
	msgDeviceGone = message{Title: "This code can no longer be used",
		Text: "The code has expired, or it has been used already. Start again on your device to get a new code.",
		Link: devicePath, LinkText: "Enter another code"}
	msgDeviceApp = message{Title: "This application is not recognised",
		Text: "The code belongs to an application that has been turned off or removed, or that may no longer connect devices. Tell the people who run the application.",
		Help: true}
	msgDeviceAccount = message{Title: "Your account cannot connect devices",
		Text: "Your account has been disabled or removed, so it can no longer allow applications.", Help: true}
	msgBadDeviceLink = message{Title: "This link is broken",
		Text: "The address is damaged. Go to the address your device shows and type the code yourself.",
		Link: devicePath, LinkText: "Enter a code"}
	msgDeviceLimited = message{Title: "Too many wrong codes", Help: true}
)

// deviceFormData fills the code form.
type deviceFormData struct {
	site
	// Code is what the field shows: a code from the link
	// (verification_uri_complete, Prefilled), or what was typed.
	Code      string
	Prefilled bool
	Message   string
	CSRF      string
}

// deviceConsentData fills the device's consent page.
type deviceConsentData struct {
	site
	AppName  string
	Username string
	Code     string // XXXX-XXXX
	Scopes   []scopeItem
	CSRF     string
}

// deviceDone fills the last page of the device flow.
type deviceDone struct {
	site
	Approved bool
}
