package httpapi

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"nbreg/registry"
)

// dateLayout is how a day is written in a query: YYYY-MM-DD.
const dateLayout = "2006-01-02"

// Messages of malformed date filters, in Django's words.
const (
	msgInvalidDate   = "Enter a valid date."
	msgInvalidNumber = "Enter a number."
	msgRangeValues   = "Range query expects two values."
)

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
	// Every date filter is a span of whole UTC days; given together they
	// must all hold, so the spans intersect.
	narrow := func(from, before time.Time) {
		if f.CreatedFrom.IsZero() || from.After(f.CreatedFrom) {
			f.CreatedFrom = from
		}
		if f.CreatedBefore.IsZero() || before.Before(f.CreatedBefore) {
			f.CreatedBefore = before
		}
	}
	if v := strings.TrimSpace(q.Get("created_on")); v != "" {
		if day, ok := parseDay(v); ok {
			narrow(day, day.AddDate(0, 0, 1))
		} else {
			p.Add("created_on", msgInvalidDate)
		}
	}
	if v := strings.TrimSpace(q.Get("created_on__year")); v != "" {
		year, err := strconv.Atoi(v)
		switch {
		case err != nil:
			p.Add("created_on__year", msgInvalidNumber)
		case year < 1 || year > 9999:
			p.Add("created_on__year", "Ensure this value is between 1 and 9999.")
		default:
			from := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC)
			narrow(from, from.AddDate(1, 0, 0))
		}
	}
	if v := strings.TrimSpace(q.Get("created_on__range")); v != "" {
		bounds := strings.Split(v, ",")
		if len(bounds) != 2 {
			p.Add("created_on__range", msgRangeValues)
		} else {
			from, ok1 := parseDay(strings.TrimSpace(bounds[0]))
			to, ok2 := parseDay(strings.TrimSpace(bounds[1]))
			if ok1 && ok2 {
				narrow(from, to.AddDate(0, 0, 1))
			} else {
				p.Add("created_on__range", msgInvalidDate)
			}
		}
	}
	f.Metadata = parseMetadataLookups(q, p)
	return f, p.Err()
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

// parseDay reads YYYY-MM-DD as the start of that UTC day.
func parseDay(s string) (time.Time, bool) {
	t, err := time.Parse(dateLayout, s)
	return t, err == nil
}
