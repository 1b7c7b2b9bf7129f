//! A local receiver of notifications, for tests and rehearsals: an HTTP server on a loopback
//! port that records every request it gets (method, path, query, headers, body) and answers
//! each as its script says: a status code, or no answer at all.
//!
//! Point any notification target at it (`http://127.0.0.1:<port>/<anything>`: reimage
//! accepts `http` and any path on a loopback address for every target kind), run, and read
//! back exactly what DingTalk, Lark, Slack or an HTTPS endpoint would have received.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;

/// How the receiver answers one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// This status, with the body given.
    Status(u16, String),
    /// Nothing: the connection stays open until the sender gives up.
    Never,
}

impl Answer {
    /// `200` with DingTalk's and Lark's "all is well" body (`{"errcode":0,"code":0}`), which
    /// any other sender ignores.
    pub fn ok() -> Self {
        Self::Status(
            200,
            r#"{"errcode":0,"errmsg":"ok","code":0,"msg":"success"}"#.into(),
        )
    }
}

/// One request the receiver got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// `POST`, most likely.
    pub method: String,
    /// The path.
    pub path: String,
    /// The query string, if any.
    pub query: Option<String>,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// What it was answered (`None`: nothing).
    pub answered: Option<u16>,
}

impl Received {
    /// The value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Default)]
struct Shared {
    script: VecDeque<Answer>,
    otherwise: Option<Answer>,
    received: Vec<Received>,
}

/// The receiver. Dropping it stops the server.
pub struct Receiver {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Receiver {
    /// Starts a receiver that answers every request `200` ([`Answer::ok`]).
    pub async fn start() -> std::io::Result<Self> {
        Self::scripted(Vec::new(), Answer::ok()).await
    }

    /// Starts a receiver that answers the first requests as `script` says, in order, then
    /// every other as `otherwise`.
    pub async fn scripted(script: Vec<Answer>, otherwise: Answer) -> std::io::Result<Self> {
        let shared = Arc::new(Mutex::new(Shared {
            script: script.into(),
            otherwise: Some(otherwise),
            received: Vec::new(),
        }));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new()
            .fallback(record)
            .with_state(shared.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Self {
            addr,
            shared,
            stop: Some(stop),
        })
    }

    /// `http://127.0.0.1:<port>` followed by `path_and_query` (which starts with `/`).
    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{path_and_query}", self.addr)
    }

    /// Every request so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.shared
            .lock()
            .map(|s| s.received.clone())
            .unwrap_or_default()
    }

    /// The requests to `path`, in order.
    pub fn received_at(&self, path: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn record(
    State(shared): State<Arc<Mutex<Shared>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let answer = {
        let Ok(mut s) = shared.lock() else {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        let answer = s
            .script
            .pop_front()
            .or_else(|| s.otherwise.clone())
            .unwrap_or_else(Answer::ok);
        s.received.push(Received {
            method: method.to_string(),
            path: uri.path().to_owned(),
            query: uri.query().map(str::to_owned),
            headers: headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: body.to_vec(),
            answered: match &answer {
                Answer::Status(code, _) => Some(*code),
                Answer::Never => None,
            },
        });
        answer
    };
    match answer {
        Answer::Status(code, body) => (
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            [("content-type", "application/json")],
            body,
        )
            .into_response(),
        Answer::Never => std::future::pending().await,
    }
}
