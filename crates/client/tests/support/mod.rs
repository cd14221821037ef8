//! What the prefetch tests share (a module of the test binaries that include
//! it, not a test binary of its own).

/// Threads of this process named like the prefetch helper.
pub fn prefetch_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter(|t| {
                    std::fs::read_to_string(t.path().join("comm"))
                        .is_ok_and(|name| name.trim() == "runtel-prefetch")
                })
                .count()
        })
        .unwrap_or(0)
}
