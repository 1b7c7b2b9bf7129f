//! How an error and its causes are said on one line: the one place reimage prints a cause
//! chain (the CLI, the functions' start-up, the FC runtime's error answers, the OSS store's
//! messages).

use std::error::Error;

/// `err`, then each of its causes after `: `. A cause whose text the line already ends with is
/// not said again: some errors still carry their cause in their own message.
pub fn chain(err: &(dyn Error + 'static)) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.ends_with(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
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
    #[error("cannot read {path}: {source}")]
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
