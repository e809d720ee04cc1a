package httpapi

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"nbreg/registry"
)

// Messages of malformed date filters, in Django's words where Django has
// them.
const (
	msgInvalidDateTime = "Enter a valid date/time."
	msgInvalidNumber   = "Enter a number."
	msgRangeValues     = "Range query expects two values."
	// Django would fail with a 500 on a year its datetime cannot hold.
	msgYearRange = "Ensure this value is between 1 and 9999."
)

// nothingCreated is the instant an empty span starts and ends at: a date
// filter that can match no resource narrows the creation span to it.
var nothingCreated = time.Unix(0, 0).UTC()

// parseResourceFilter reads the filters of GET resources/. Unknown
// parameters are ignored; a malformed date filter or metadata lookup is a
// 400 naming it (every malformed one is listed).
func parseResourceFilter(q url.Values) (registry.ResourceFilter, error) {
	f := registry.ResourceFilter{
		Name:      q.Get("name"),
		SHA1:      q.Get("sha1"),
		DType:     q.Get("dtype"),
		CreatedBy: q.Get("created_by"),
		Location:  q.Get("location"),
		Scheme:    q.Get("scheme"),
	}
	p := registry.Problems{}
	// Each date filter is a span of creation times [from, before); given
	// together they must all hold, so the spans intersect.
	narrow := func(from, before time.Time) {
		if f.CreatedFrom.IsZero() || from.After(f.CreatedFrom) {
			f.CreatedFrom = from
		}
		if f.CreatedBefore.IsZero() || before.Before(f.CreatedBefore) {
			f.CreatedBefore = before
		}
	}
	// Stored times have microseconds, so one microsecond is the span of
	// an instant.
	if v := lastValue(q, "created_on"); v != "" {
		if t, ok := parseFilterTime(v); ok {
			narrow(t, t.Add(time.Microsecond))
		} else {
			p.Add("created_on", msgInvalidDateTime)
		}
	}
	if v := lastValue(q, "created_on__year"); v != "" {
		if year, msg := parseFilterYear(v); msg != "" {
			p.Add("created_on__year", msg)
		} else {
			from := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC)
			narrow(from, from.AddDate(1, 0, 0))
		}
	}
	if v := lastValue(q, "created_on__range"); v != "" {
		if from, before, msg := parseFilterRange(v); msg != "" {
			p.Add("created_on__range", msg)
		} else {
			narrow(from, before)
		}
	}
	f.Metadata = parseMetadataLookups(q, p)
	return f, p.Err()
}

// lastValue is the last value of a repeated parameter, the one Django's
// QueryDict gives a filter.
func lastValue(q url.Values, param string) string {
	vs := q[param]
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// parseMetadataLookups reads every metadata__ parameter, in name order; a
// parameter given several times gives a lookup per value, all of which
// must hold. Malformed ones are recorded in p under their own name.
func parseMetadataLookups(q url.Values, p registry.Problems) []registry.MetadataLookup {
	var ls []registry.MetadataLookup
	for _, param := range slices.Sorted(maps.Keys(q)) {
		if !strings.HasPrefix(param, registry.MetadataParamPrefix) {
			continue
		}
		for _, v := range q[param] {
			l, err := registry.ParseMetadataLookup(param, v)
			if err != nil {
				if err := p.Merge(err); err != nil {
					p.Add(param, err.Error())
				}
				break // one message per parameter
			}
			ls = append(ls, l)
		}
	}
	if len(ls) > registry.MaxMetadataLookups {
		p.Add(registry.NonField, fmt.Sprintf("At most %d metadata lookups may be combined.", registry.MaxMetadataLookups))
	}
	return ls
}

// parseFilterRange reads FROM,TO as django-filter's range of date-times
// does and returns the span [from, before) it matches. Every value is read
// before the values are counted, so a bad one is reported even among three;
// an empty one stands for Python's None, and no creation time is BETWEEN
// a bound and NULL.
func parseFilterRange(v string) (from, before time.Time, msg string) {
	values := strings.Split(v, ",")
	var bounds []time.Time
	for _, value := range values {
		if value == "" {
			continue
		}
		t, ok := parseFilterTime(value)
		if !ok {
			return time.Time{}, time.Time{}, msgInvalidDateTime
		}
		bounds = append(bounds, t)
	}
	switch {
	case len(values) != 2:
		return time.Time{}, time.Time{}, msgRangeValues
	case len(bounds) != 2:
		return nothingCreated, nothingCreated, ""
	}
	// SQL BETWEEN holds at both ends, to the microsecond.
	return bounds[0], bounds[1].Add(time.Microsecond), ""
}

// parseFilterYear reads a year as django-filter's NumberFilter and Django's
// year lookup do: any decimal number (sign, fraction, exponent, underscores
// between digits, white space around it), truncated toward zero. msg says
// why s is not a year.
func parseFilterYear(s string) (year int, msg string) {
	s = strings.ReplaceAll(strings.TrimFunc(s, isPythonSpace), "_", "")
	// ParseFloat also reads hexadecimal, which a decimal number is not.
	f, err := strconv.ParseFloat(s, 64)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return 0, msgYearRange // a number, far from any year
	case err != nil || strings.ContainsAny(s, "xX") || math.IsNaN(f) || math.IsInf(f, 0):
		return 0, msgInvalidNumber
	}
	if f = math.Trunc(f); f < 1 || f > 9999 {
		return 0, msgYearRange
	}
	return int(f), ""
}

// filterTime is a date-time as Django's parse_datetime reads one (the
// space before the zone is Python's white space); a date alone is read by
// Python's fromisoformat, which wants two-digit month and day. Groups:
// year, month, day, hour, minute, second, fraction (past its sixth digit
// ignored), zone.
var (
	filterDate = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})$`)
	filterTime = regexp.MustCompile(`^(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{1,2})` +
		`(?::(\d{1,2})(?:[.,](\d{1,6})\d*)?)?[\s\v\x{1c}-\x{1f}\x{85}\p{Z}]*(Z|[+-]\d{2}(?::?\d{2})?)?$`)
)

// parseFilterTime reads a date or a date-time as django-filter's
// IsoDateTimeField does under USE_TZ in UTC: a date is its midnight, no
// zone is UTC. The result is in UTC, at a whole microsecond, in years 1 to
// 9999.
func parseFilterTime(s string) (time.Time, bool) {
	s = strings.TrimFunc(s, isPythonSpace)
	m := filterDate.FindStringSubmatch(s)
	if m == nil {
		if m = filterTime.FindStringSubmatch(s); m == nil {
			return time.Time{}, false
		}
	}
	n := make([]int, 7) // year, month, day, hour, minute, second, microsecond
	for i, part := range m[1:min(len(m), 8)] {
		if i == 6 && part != "" {
			part += strings.Repeat("0", 6-len(part))
		}
		n[i], _ = strconv.Atoi(part) // digits only; "" (absent) is 0
	}
	year, month, day := n[0], n[1], n[2]
	if year < 1 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || n[3] > 23 || n[4] > 59 || n[5] > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, n[3], n[4], n[5], n[6]*1000, time.UTC)
	if len(m) > 8 && m[8] != "" && m[8] != "Z" {
		// ±HH, ±HHMM or ±HH:MM; as in Django the minutes may pass 59, the
		// whole offset must stay within a day.
		digits := strings.ReplaceAll(m[8][1:], ":", "")
		hours, _ := strconv.Atoi(digits[:2])
		minutes, _ := strconv.Atoi(digits[2:] + strings.Repeat("0", 4-len(digits)))
		offset := time.Duration(hours)*time.Hour + time.Duration(minutes)*time.Minute
		if offset >= 24*time.Hour {
			return time.Time{}, false
		}
		if m[8][0] == '-' {
			offset = -offset
		}
		t = t.Add(-offset)
	}
	// A zone can carry the first or last day of year 1 or 9999 outside
	// the years every store and client can write.
	if t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, false
	}
	return t, true
}

// daysIn is the number of days of a month.
func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// isPythonSpace reports whether Python's str.strip and \s take r for white
// space: what Go does, and the ASCII separators U+001C to U+001F.
func isPythonSpace(r rune) bool {
	return unicode.IsSpace(r) || '\x1c' <= r && r <= '\x1f'
}
