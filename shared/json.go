package shared

// NonNil returns ss, or an empty list when ss is nil, so that an absent
// list is written as [] rather than null (in JSON and in the store).
func NonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}
