package linearizability

// seq is a persistent array of block numbers indexed by position: setting a
// position copies only the path to it, so the many candidate queue contents
// the queue checker keeps at once share almost all of their memory.
type seq struct {
	root  *trieNode
	depth int // levels below the root; a leaf holds trieFan entries
}

const (
	trieBits = 4
	trieFan  = 1 << trieBits
	trieMask = trieFan - 1
)

type trieNode struct {
	kids [trieFan]*trieNode
	vals [trieFan]int32 // used in leaves only
}

// newSeq returns an empty array that can hold n entries.
func newSeq(n int) seq {
	depth := 0
	for span := trieFan; span < n; span <<= trieBits {
		depth++
	}
	return seq{depth: depth}
}

func (s seq) get(i int) int32 {
	n := s.root
	for level := s.depth; level > 0; level-- {
		n = n.kids[(i>>(level*trieBits))&trieMask]
	}
	return n.vals[i&trieMask]
}

func (s seq) set(i int, v int32) seq {
	s.root = setPath(s.root, s.depth, i, v)
	return s
}

func setPath(n *trieNode, level, i int, v int32) *trieNode {
	c := &trieNode{}
	if n != nil {
		*c = *n
	}
	if level == 0 {
		c.vals[i&trieMask] = v
		return c
	}
	k := (i >> (level * trieBits)) & trieMask
	c.kids[k] = setPath(c.kids[k], level-1, i, v)
	return c
}

// equalRange reports whether a and b hold the same entries at positions
// lo..hi-1. Shared subtrees compare equal without being walked.
func equalRange(a, b seq, lo, hi int) bool {
	return eqNode(a.root, b.root, a.depth, 0, lo, hi)
}

func eqNode(a, b *trieNode, level, base, lo, hi int) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil {
		return false
	}
	if level == 0 {
		for i := max(lo-base, 0); i < min(hi-base, trieFan); i++ {
			if a.vals[i] != b.vals[i] {
				return false
			}
		}
		return true
	}
	span := 1 << (level * trieBits)
	for k := range trieFan {
		start := base + k*span
		if start+span <= lo || start >= hi {
			continue
		}
		if !eqNode(a.kids[k], b.kids[k], level-1, start, lo, hi) {
			return false
		}
	}
	return true
}
