//! Panic containment: a panic inside a library while handling one document becomes an error for
//! that document, and the batch goes on.
//!
//! [`contain`] runs a closure under `catch_unwind`; while it runs, the panic hook installed by
//! [`install_panic_hook`] records the panic's message and location for the error instead of
//! printing it, so the user sees one `error: INPUT: ...` line, not a backtrace notice.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};

thread_local! {
    static CONTAINED: Cell<usize> = const { Cell::new(0) };
    static LAST: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs the hook that keeps contained panics quiet (others go to the previous hook). Call it
/// once at the start of a program; [`contain`] works without it, only louder.
pub fn install_panic_hook() {
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if CONTAINED.with(Cell::get) > 0 {
            let message = payload_text(info.payload());
            let place = info.location().map(|l| format!(" at {}:{}", short_path(l.file()), l.line())).unwrap_or_default();
            LAST.with(|l| *l.borrow_mut() = Some(format!("{message}{place}")));
        } else {
            previous(info);
        }
    }));
}

/// Runs `f`; a panic inside it comes back as `Err` with its message (and, with the hook
/// installed, where it happened).
pub fn contain<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    CONTAINED.with(|c| c.set(c.get() + 1));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CONTAINED.with(|c| c.set(c.get() - 1));
    result.map_err(|payload| LAST.with(|l| l.borrow_mut().take()).unwrap_or_else(|| payload_text(payload.as_ref())))
}

/// A dependency's source path from its crate directory on (`html5ever-0.39.0/src/encoding.rs`).
fn short_path(file: &str) -> &str {
    file.split_once("/registry/src/").and_then(|(_, rest)| rest.split_once('/')).map_or(file, |(_, krate)| krate)
}

fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| payload.downcast_ref::<String>().cloned()).unwrap_or_else(|| "panic".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_with_its_message() {
        install_panic_hook();
        assert_eq!(contain(|| 2 + 2), Ok(4));
        let v: Vec<u8> = Vec::new();
        let err = contain(|| v[3]).unwrap_err();
        assert!(err.contains("index out of bounds") && err.contains("contain.rs"), "{err}");
        assert_eq!(contain(|| "still works"), Ok("still works"));
    }
}
