// Package imagesize reads the --size flag that finetune and dreambench share.
package imagesize

import (
	"fmt"
	"strconv"
	"strings"
)

// Parse reads a --size value: "N" (square), "WIDTHxHEIGHT" (width first, as image tools write
// it), or "" or "0" for the model's default, returned as 0, 0.
func Parse(s string) (height, width int, err error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, 0, nil
	}
	ws, hs, pair := strings.Cut(strings.ToLower(s), "x")
	if !pair {
		hs = ws
	}
	width, errW := strconv.Atoi(ws)
	height, errH := strconv.Atoi(hs)
	if errW != nil || errH != nil || width < 1 || height < 1 {
		return 0, 0, fmt.Errorf("--size %q: want N or WIDTHxHEIGHT in pixels (512, 768x512), or 0 for the model's default", s)
	}
	return height, width, nil
}
