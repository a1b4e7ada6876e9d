package litmus

import "strings"

// primitives are the kernel operations a thread may call, by name, with
// their number of arguments.
var primitives = func() map[string]int {
	m := map[string]int{
		"READ_ONCE": 1, "WRITE_ONCE": 2,
		"smp_load_acquire": 1, "smp_store_release": 2,
		"rcu_dereference": 1, "rcu_assign_pointer": 2,
		"rcu_read_lock": 0, "rcu_read_unlock": 0, "synchronize_rcu": 0, "synchronize_rcu_expedited": 0,
		"srcu_read_lock": 1, "srcu_read_unlock": 2, "synchronize_srcu": 1,
		"smp_mb": 0, "smp_wmb": 0, "smp_rmb": 0,
		"smp_mb__before_atomic": 0, "smp_mb__after_atomic": 0, "smp_mb__after_spinlock": 0,
		"smp_mb__after_unlock_lock": 0, "barrier": 0,
		"spin_lock": 1, "spin_unlock": 1, "spin_trylock": 1, "spin_is_locked": 1,
		"atomic_read": 1, "atomic_set": 2, "atomic_read_acquire": 1, "atomic_set_release": 2,
		"atomic_inc": 1, "atomic_dec": 1, "atomic_add": 2, "atomic_sub": 2,
		"atomic_and": 2, "atomic_or": 2, "atomic_xor": 2, "atomic_andnot": 2,
		"atomic_inc_and_test": 1, "atomic_dec_and_test": 1, "atomic_sub_and_test": 2,
		"atomic_add_unless": 3, "smp_store_mb": 2,
		"srcu_down_read": 1, "srcu_up_read": 2, "synchronize_srcu_expedited": 1, "smp_mb__after_srcu_read_unlock": 0,
	}
	// Value-returning read-modify-writes and their ordering variants.
	for _, base := range []struct {
		name string
		args int
	}{
		{"xchg", 2}, {"cmpxchg", 3}, {"atomic_xchg", 2}, {"atomic_cmpxchg", 3},
		{"atomic_add_return", 2}, {"atomic_sub_return", 2}, {"atomic_inc_return", 1}, {"atomic_dec_return", 1},
		{"atomic_fetch_add", 2}, {"atomic_fetch_sub", 2}, {"atomic_fetch_inc", 1}, {"atomic_fetch_dec", 1},
		{"atomic_fetch_and", 2}, {"atomic_fetch_or", 2}, {"atomic_fetch_xor", 2}, {"atomic_fetch_andnot", 2},
		{"atomic_add_negative", 2},
	} {
		for _, order := range []string{"", "_relaxed", "_acquire", "_release"} {
			m[base.name+order] = base.args
		}
	}
	return m
}()

// Known reports whether name is a kernel primitive the parser reads.
func Known(name string) bool { _, ok := primitives[name]; return ok }

func arity(name string) (int, bool) { n, ok := primitives[name]; return n, ok }

// Ordering is the ordering variant a primitive's name asks for:
// "relaxed", "acquire", "release", or "" for the plain (full) form.
func Ordering(name string) string {
	for _, o := range []string{"relaxed", "acquire", "release"} {
		if strings.HasSuffix(name, "_"+o) {
			return o
		}
	}
	return ""
}
