//! The `FC <Phase> Start/End RequestId: <id>` lines FC cuts its per-request logs at
//! (<https://www.alibabacloud.com/help/doc-detail/425057.htm>). They go to stdout in production; tests hand in a [`MarkerLog`].

use std::fmt;
use std::io::Write as _;
use std::sync::{Arc, Mutex};

use super::control::ControlPath;

/// Where marker lines are written.
pub trait MarkerSink: Send + Sync {
    /// Writes one line (without its trailing newline).
    fn write_line(&self, line: &str);
}

/// The sink FC reads: the process's stdout, flushed after every line.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stdout;

impl MarkerSink for Stdout {
    fn write_line(&self, line: &str) {
        let mut out = std::io::stdout().lock();
        // A closed stdout must not take an invocation down; the marker is lost, nothing else.
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

/// An in-memory sink that keeps every line, for tests and tools that inspect the markers.
#[derive(Debug, Clone, Default)]
pub struct MarkerLog {
    lines: Arc<Mutex<Vec<String>>>,
}

impl MarkerLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// The lines written so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl MarkerSink for MarkerLog {
    fn write_line(&self, line: &str) {
        if let Ok(mut lines) = self.lines.lock() {
            lines.push(line.to_owned());
        }
    }
}

/// A shared marker sink.
#[derive(Clone)]
pub struct Markers(Arc<dyn MarkerSink>);

impl Markers {
    /// Markers written to `sink`.
    pub fn new(sink: impl MarkerSink + 'static) -> Self {
        Self(Arc::new(sink))
    }

    /// `FC <Phase> Start RequestId: <id>`.
    pub fn start(&self, path: ControlPath, request_id: &str) {
        self.0.write_line(&start_line(path, request_id));
    }

    /// `FC <Phase> End RequestId: <id>`.
    pub fn end(&self, path: ControlPath, request_id: &str) {
        self.0.write_line(&end_line(path, request_id));
    }
}

impl Default for Markers {
    fn default() -> Self {
        Self::new(Stdout)
    }
}

impl fmt::Debug for Markers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Markers")
    }
}

/// The start marker of `path` for `request_id`.
pub fn start_line(path: ControlPath, request_id: &str) -> String {
    format!("FC {} Start RequestId: {request_id}", path.marker_word())
}

/// The end marker of `path` for `request_id`.
pub fn end_line(path: ControlPath, request_id: &str) -> String {
    format!("FC {} End RequestId: {request_id}", path.marker_word())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_lines_have_the_exact_form_fc_cuts_logs_at() {
        assert_eq!(
            start_line(ControlPath::Invoke, "abc-1"),
            "FC Invoke Start RequestId: abc-1"
        );
        assert_eq!(
            end_line(ControlPath::HttpInvoke, "abc-1"),
            "FC Invoke End RequestId: abc-1"
        );
        assert_eq!(
            start_line(ControlPath::Initialize, "i"),
            "FC Initialize Start RequestId: i"
        );
        assert_eq!(
            end_line(ControlPath::PreStop, "s"),
            "FC PreStop End RequestId: s"
        );
        assert_eq!(
            start_line(ControlPath::PreFreeze, "f"),
            "FC PreFreeze Start RequestId: f"
        );
    }

    #[test]
    fn marker_log_keeps_lines_in_order() {
        let log = MarkerLog::new();
        let markers = Markers::new(log.clone());
        markers.start(ControlPath::Invoke, "a");
        markers.end(ControlPath::Invoke, "a");
        assert_eq!(
            log.lines(),
            ["FC Invoke Start RequestId: a", "FC Invoke End RequestId: a"]
        );
    }
}
