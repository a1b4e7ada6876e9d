package model

// # The object pool
//
// An object pool (qmempool, or the slab itself) hands out objects and takes
// them back. Each object is at any instant free (in the pool or back in the
// slab: callers cannot tell) or held by exactly one holder. Alloc returns
// an object nobody holds, which the caller then holds; Free takes an object
// the caller holds. The specification is per object, so a history can be
// checked one object at a time.

// Nobody is the holder of a free object.
const Nobody = 0

// StepAlloc is an allocation by holder `by` that returned an object whose
// current holder is `holder`: legal when nobody held it.
func StepAlloc(holder, by int) (bool, int) {
	if holder != Nobody {
		return false, holder
	}
	return true, by
}

// StepFree is a free by holder `by` of an object whose current holder is
// `holder`: legal when `by` held it.
func StepFree(holder, by int) (bool, int) {
	if holder != by {
		return false, holder
	}
	return true, Nobody
}
