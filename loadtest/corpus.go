package loadtest

import (
	"crypto/sha1"
	"encoding/hex"
	"strconv"
	"time"
)

// The seeded registry is a pure function of the name prefix and the number
// of resources: resource i is named prefix plus i in eight digits, and
// everything else about it follows from i. A later run, or a registry
// seeded by other means with the same naming, therefore knows every name
// and the answer to every search without listing anything.

// nameDigits is the width of the zero-padded index in a seeded name, enough
// for 100 million resources.
const nameDigits = 8

// Animals are laid out in windows of windowSize consecutive resources, each
// holding windowAnimals animals with animalResources resources apiece,
// interleaved: resource i belongs to animal (i/windowSize)*windowAnimals +
// i%windowAnimals. Every animal of a complete window therefore names exactly
// animalResources resources whatever the registry's size, and they are
// spread over the window rather than adjacent, as a lab recording several
// birds in parallel registers them.
const (
	animalResources = 50
	windowAnimals   = 100
	windowSize      = animalResources * windowAnimals
)

// Datatypes and archives the seeded resources use. The first datatype is
// downloadable, so the locations of its resources end with the registry's
// own virtual location, as in real use.
const (
	dataTypeDownloadable = "loadtest-wav"
	dataTypePlain        = "loadtest-pprox"
	archiveLocal         = "loadtest-local"
	archiveRemote        = "loadtest-remote"
)

// experimenters share the animals among them.
var experimenters = []string{"dmeliza", "cdm", "jaz", "kat", "lou", "mia", "ned", "oli", "pat", "quinn"}

// appendName appends the name of seeded resource i to dst.
func appendName(dst []byte, prefix string, i int) []byte {
	return appendPadded(append(dst, prefix...), i, nameDigits)
}

// Name returns the name of seeded resource i.
func Name(prefix string, i int) string {
	return string(appendName(nil, prefix, i))
}

// Animal returns the index of the animal that seeded resource i comes from.
func Animal(i int) int {
	return i/windowSize*windowAnimals + i%windowAnimals
}

// AnimalValue returns the metadata value naming animal a.
func AnimalValue(a int) string {
	return string(appendPadded([]byte("st"), a, 6))
}

// AnimalHits returns how many of the resources 0..n-1 come from animal a:
// animalResources for every animal of a complete window, fewer in the last,
// partial one.
func AnimalHits(a, n int) int {
	first := a/windowAnimals*windowSize + a%windowAnimals
	if first >= n {
		return 0
	}
	return min(animalResources, (n-first+windowAnimals-1)/windowAnimals)
}

// searchableAnimals returns how many animals, numbered from 0, searches
// should draw from in a registry of n seeded resources: those of complete
// windows when there is one, so that every search hits animalResources
// resources, else every animal with at least one resource.
func searchableAnimals(n int) int {
	if full := n / windowSize; full > 0 {
		return full * windowAnimals
	}
	return min(n, windowAnimals)
}

// Metadata returns the metadata of seeded resource i: who recorded it, from
// which animal (with the animal's age and sex nested under subject), in
// which session, whether the bird was awake, and on which day.
func Metadata(i int) map[string]any {
	a := Animal(i)
	session := 1 + (i%windowSize)/windowAnimals/5 // ten sessions of five recordings per animal
	day := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, (a*7+session)%365)
	return map[string]any{
		"experimenter": experimenters[a%len(experimenters)],
		"animal":       AnimalValue(a),
		"subject":      map[string]any{"age": 30 + a%600, "sex": []string{"F", "M"}[a%2]},
		"session":      session,
		"awake":        i%3 != 0,
		"recorded":     day.Format(time.DateOnly),
	}
}

// DataType returns the datatype of seeded resource i: three in four are
// downloadable.
func DataType(i int) string {
	if i%4 == 3 {
		return dataTypePlain
	}
	return dataTypeDownloadable
}

// Locations returns the archives holding seeded resource i: every resource
// is in the local archive, one in three also in the remote one.
func Locations(i int) []string {
	if i%3 == 0 {
		return []string{archiveLocal, archiveRemote}
	}
	return []string{archiveLocal}
}

// SHA1 returns the sha1 recorded for the resource named name: the hash of
// the name, unique as resources' hashes must be.
func SHA1(name string) string {
	sum := sha1.Sum([]byte(name))
	return hex.EncodeToString(sum[:])
}

// appendPadded appends v in decimal, zero-padded to width digits.
func appendPadded(dst []byte, v, width int) []byte {
	var digits [20]byte
	d := strconv.AppendInt(digits[:0], int64(v), 10)
	for n := len(d); n < width; n++ {
		dst = append(dst, '0')
	}
	return append(dst, d...)
}
