package units

import "strconv"

// prefixes are humanize_number's binary prefixes, indexed by scale.
var prefixes = [...]string{"", "K", "M", "G", "T", "P", "E"}

// Humanize formats n as FreeBSD's humanize_number(buf, 5, n, "",
// HN_AUTOSCALE, HN_DECIMAL|HN_NOSPACE) does: at most four characters,
// scaled by powers of 1024, with one decimal place below 10 once scaled.
// hastctl appends a literal "B", giving "2.0MB", "64MB" or "0B".
func Humanize(n uint64) string {
	const (
		divisor       = 1024
		divisorDeccut = 973 // ceil(0.95 * 1024)
		// maxValue is 10^(len-baselen): a 5-byte buffer less one digit and
		// one prefix character leaves three more digit columns.
		maxValue = 1000
	)
	quotient, remainder := n, uint64(0)
	scale := 0
	for (quotient >= maxValue || (quotient == maxValue-1 &&
		(remainder >= divisorDeccut || remainder >= divisor/2))) &&
		scale < len(prefixes)-1 {
		remainder = quotient % divisor
		quotient /= divisor
		scale++
	}
	if scale > 0 && (quotient < 9 || (quotient == 9 && remainder < divisorDeccut)) {
		s1 := quotient + (remainder*10+divisor/2)/divisor/10
		s2 := ((remainder*10 + divisor/2) / divisor) % 10
		return strconv.FormatUint(s1, 10) + "." + strconv.FormatUint(s2, 10) + prefixes[scale]
	}
	return strconv.FormatUint(quotient+(remainder+divisor/2)/divisor, 10) + prefixes[scale]
}
