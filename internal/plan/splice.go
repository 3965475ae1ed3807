package plan

// Splice finds what a new version of a file shares with the old one at both ends: new is old's first
// head bytes, then new[head:len(new)-tail], then old's last tail bytes. An edit in one place of a large
// file (a line changed, inserted or removed) leaves only that place to send, whatever it does to the
// offsets after it. head+tail never exceeds the length of either.
func Splice(old, new []byte) (head, tail int) {
	n := min(len(old), len(new))
	for head < n && old[head] == new[head] {
		head++
	}
	for tail < n-head && old[len(old)-1-tail] == new[len(new)-1-tail] {
		tail++
	}
	return head, tail
}
