// Package flagpreset applies a preset of flag values (the toy world's, toypreset.Flags) to a
// program's command line. The values go in through the flags themselves, as the text a user
// would type, so each lands in the variable its flag is defined on and a program needs no table
// of which field each name fills.
package flagpreset

import (
	"flag"
	"fmt"
)

// Apply sets every flag of preset that given does not name (the flags the command line gave:
// they win over the preset), parsing fmt.Sprint of the value as fs would parse the command
// line's: ints, shortest-form floats and strings come back exactly. A preset name fs does not
// define, or a value the flag refuses, is a programming error, and panics naming the program.
func Apply(fs *flag.FlagSet, preset map[string]any, given map[string]bool) {
	for name, v := range preset {
		if given[name] {
			continue
		}
		if fs.Lookup(name) == nil {
			panic(fmt.Sprintf("%s: preset: no flag %s", fs.Name(), name))
		}
		if err := fs.Set(name, fmt.Sprint(v)); err != nil {
			panic(fmt.Sprintf("%s: preset: %s: %v", fs.Name(), name, err))
		}
	}
}
