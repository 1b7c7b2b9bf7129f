//! How an error and its causes are said on one line: the one place reimage prints a cause
//! chain (the CLI, the functions' start-up, the FC runtime's error answers, the OSS store's
//! messages).

use std::error::Error;

/// `err`, then each of its causes after `: `.
///
/// reimage's errors follow one convention: `Display` says what this layer failed to do and
/// leaves the cause out; the cause hangs off `#[source]`. So every cause is said exactly once,
/// here, wherever an error reaches a person (a log line, an API answer, a record's reason).
pub fn chain(err: &(dyn Error + 'static)) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::chain;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot open the store")]
    struct Outer(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read {path}")]
    struct Middle {
        path: &'static str,
        #[source]
        source: std::io::Error,
    }

    #[test]
    fn every_cause_is_said_once_in_order() {
        let err = Outer(Middle {
            path: "/state",
            source: std::io::Error::other("disk on fire"),
        });
        assert_eq!(
            chain(&err),
            "cannot open the store: cannot read /state: disk on fire"
        );
        let io = std::io::Error::other("alone");
        assert_eq!(chain(&io), "alone");
    }
}
