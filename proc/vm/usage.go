package vm

// Usage describes an address space, in bytes, for /proc and getrusage.
type Usage struct {
	Size   uint64 // mapped
	RSS    uint64 // resident pages
	Anon   uint64 // resident anonymous private pages
	File   uint64 // resident pages of file mappings
	Shared uint64 // resident pages of shared anonymous mappings
	Data   uint64 // private writable mappings but the stack
	Stack  uint64 // the "[stack]" mapping
	Exec   uint64 // executable mappings
	// BrkStart and Brk are the start and end of the heap.
	BrkStart, Brk uint64
}

// Usage counts the address space's mappings and resident pages (a walk
// of the page tables that skips absent subtrees). A released space is
// empty.
func (s *Space) Usage() Usage {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := Usage{BrkStart: s.brkStart, Brk: s.brk}
	if s.released {
		return u
	}
	for _, v := range s.vmas {
		n := v.End - v.Start
		u.Size += n
		r := s.present(v.Start, v.End) * PageSize
		u.RSS += r
		switch {
		case v.File != nil:
			u.File += r
		case v.Shared:
			u.Shared += r
		default:
			u.Anon += r
		}
		switch {
		case v.Name == "[stack]":
			u.Stack += n
		case v.Prot&ProtWrite != 0 && !v.Shared:
			u.Data += n
		}
		if v.Prot&ProtExec != 0 {
			u.Exec += n
		}
	}
	return u
}

// present counts the present pages in [start, end) (page aligned).
func (s *Space) present(start, end uint64) uint64 {
	var n uint64
	for va := start; va < end; {
		t := table(s.m, s.root)
		shift := uint(39)
		for ; ; shift -= 9 {
			e := t[(va>>shift)&511]
			if e&pteP == 0 {
				break
			}
			if shift == 12 {
				n++
				break
			}
			t = table(s.m, uintptr(e&pteAddr))
		}
		// Next entry at the level where the walk stopped.
		va = (va>>shift + 1) << shift
	}
	return n
}
