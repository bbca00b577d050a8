//go:build race

package calib

const raceEnabled = true
