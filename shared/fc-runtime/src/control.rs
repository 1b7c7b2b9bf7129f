//! The `x-fc-control-path` header: what Function Compute asks the runtime to do.

use std::fmt;

/// The header FC routes every request to the runtime by.
pub const CONTROL_PATH_HEADER: &str = "x-fc-control-path";

/// One of the requests FC sends a custom runtime (<https://www.alibabacloud.com/help/doc-detail/425057.htm>). A closed set: anything
/// else is answered with a clear error, never guessed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlPath {
    /// An event invocation (API, SDK, timer trigger): the body is the raw event.
    Invoke,
    /// A request through an HTTP trigger: method, path, headers and body as the client sent them.
    HttpInvoke,
    /// The instance initializer, once per instance before its first invocation.
    Initialize,
    /// Before the instance is destroyed.
    PreStop,
    /// Before the instance is frozen (FC 2.0).
    PreFreeze,
}

impl ControlPath {
    /// Every control path, in the order of the reference table.
    pub const ALL: [ControlPath; 5] = [
        ControlPath::Invoke,
        ControlPath::HttpInvoke,
        ControlPath::Initialize,
        ControlPath::PreStop,
        ControlPath::PreFreeze,
    ];

    /// The header value FC sends for this control path.
    pub fn as_str(self) -> &'static str {
        match self {
            ControlPath::Invoke => "/invoke",
            ControlPath::HttpInvoke => "/http-invoke",
            ControlPath::Initialize => "/initialize",
            ControlPath::PreStop => "/pre-stop",
            ControlPath::PreFreeze => "/pre-freeze",
        }
    }

    /// Parses a header value; `None` for anything FC does not send.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == value)
    }

    /// The word FC's log markers use: `FC <word> Start RequestId: <id>`.
    pub fn marker_word(self) -> &'static str {
        match self {
            ControlPath::Invoke | ControlPath::HttpInvoke => "Invoke",
            ControlPath::Initialize => "Initialize",
            ControlPath::PreStop => "PreStop",
            ControlPath::PreFreeze => "PreFreeze",
        }
    }
}

impl fmt::Display for ControlPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_control_path_parses_back_from_its_header_value() {
        for path in ControlPath::ALL {
            assert_eq!(ControlPath::parse(path.as_str()), Some(path));
        }
    }

    #[test]
    fn values_fc_does_not_send_are_refused() {
        assert_eq!(ControlPath::parse("/invoke/"), None);
        assert_eq!(ControlPath::parse("/INVOKE"), None);
        assert_eq!(ControlPath::parse(""), None);
        assert_eq!(ControlPath::parse("/pre_stop"), None);
    }
}
