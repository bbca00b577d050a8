//go:build race

package binarize

const raceEnabled = true
