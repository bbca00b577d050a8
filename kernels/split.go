package kernels

import "sync"

// splitWork runs f on up to threads goroutines (the last on the caller's),
// each with a share of an m×n problem: whole nr-wide column panels when
// there are enough of them (or at least as many as mr-high row panels),
// else whole mr-high row panels.
func splitWork(threads, m, n, mr, nr int, f func(i0, m, j0, n int)) {
	mt, nt := (m+mr-1)/mr, (n+nr-1)/nr
	threads = max(1, min(threads, max(mt, nt)))
	splitN := nt >= threads || nt >= mt
	tiles := mt
	if splitN {
		tiles = nt
	}
	threads = min(threads, tiles)
	var wg sync.WaitGroup
	for t := 0; t < threads; t++ {
		lo, hi := tiles*t/threads, tiles*(t+1)/threads
		i0, mm, j0, nn := 0, m, 0, n
		if splitN {
			j0, nn = lo*nr, min(n, hi*nr)-lo*nr
		} else {
			i0, mm = lo*mr, min(m, hi*mr)-lo*mr
		}
		if t == threads-1 {
			f(i0, mm, j0, nn)
			break
		}
		wg.Add(1)
		go func() { defer wg.Done(); f(i0, mm, j0, nn) }()
	}
	wg.Wait()
}

// splitRows runs run on up to threads goroutines (the caller's among
// them), each on a share [y0, y1) of n rows.
func splitRows(threads, n int, run func(y0, y1 int)) {
	threads = max(1, min(threads, n))
	if threads == 1 {
		run(0, n)
		return
	}
	var wg sync.WaitGroup
	for t := 1; t < threads; t++ {
		wg.Add(1)
		go func() { defer wg.Done(); run(n*t/threads, n*(t+1)/threads) }()
	}
	run(0, n/threads)
	wg.Wait()
}
