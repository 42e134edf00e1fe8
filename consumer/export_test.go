package consumer

import "time"

// SetClock replaces the clock of c's scheduler (rate limits, retry wake-ups), so a test can
// hold time still and count what the rate limit admits. Call it before Run.
func SetClock(c *Consumer, now func() time.Time) { c.now = now }
