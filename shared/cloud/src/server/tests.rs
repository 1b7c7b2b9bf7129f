//! The serving loop against slow and hostile clients on loopback. Every wait is bounded by a
//! timeout that fails the test; none stands in for an event.

use std::time::Instant;

use http::StatusCode;
use http_body_util::{BodyExt as _, Full};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use super::*;

type Handler = Box<
    dyn Fn(ServedRequest) -> Pin<Box<dyn Future<Output = Response<Full<Bytes>>> + Send>>
        + Send
        + Sync,
>;

/// Answers 200 with the body it read, or 408 when the body did not arrive in time.
fn echo(_peer: SocketAddr) -> Handler {
    Box::new(|req: ServedRequest| {
        Box::pin(async move {
            match req.into_body().collect().await {
                Ok(body) => Response::new(Full::new(body.to_bytes())),
                Err(err) => {
                    let mut response = Response::new(Full::new(Bytes::from(err.to_string())));
                    *response.status_mut() = StatusCode::REQUEST_TIMEOUT;
                    response
                }
            }
        })
    })
}

struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<()>,
}

async fn start(limits: Limits) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(serve(listener, limits, echo, async move {
        let _ = stopped.await;
    }));
    Running {
        addr,
        stop: Some(stop),
        done,
    }
}

/// One whole request on a fresh connection; the status line of the answer.
async fn real_request(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(
            b"POST /x HTTP/1.1\r\nhost: t\r\ncontent-length: 2\r\nconnection: close\r\n\r\nhi",
        )
        .await
        .expect("send");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Whether the server closes `stream` (EOF or reset) within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(within, stream.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_slow_clients_neither_starve_a_real_request_nor_hold_up_shutdown() {
    let limits = Limits {
        header_read: Duration::from_secs(30),
        body_read: Duration::from_secs(30),
        max_connections: 2048,
        shutdown_grace: Duration::from_secs(2),
    };
    let mut server = start(limits).await;
    let mut slow = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let mut stream = TcpStream::connect(server.addr).await.expect("connect");
        stream
            .write_all(b"GET / HTTP/1.1\r\nhost: sl")
            .await
            .expect("half a header");
        slow.push(stream);
    }
    let started = Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(5), real_request(server.addr))
        .await
        .expect("the real request is answered while 1,000 slow clients wait");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // Shutdown ends the server within its grace although every slow client is still there.
    let started = Instant::now();
    server.stop.take().expect("running").send(()).expect("stop");
    tokio::time::timeout(Duration::from_secs(5), &mut server.done)
        .await
        .expect("the server stops within the grace")
        .expect("no panic");
    assert!(started.elapsed() < limits.shutdown_grace + Duration::from_secs(1));
    // And the slow clients' connections are gone with it.
    assert!(closed_within(&mut slow[0], Duration::from_secs(2)).await);
}

#[tokio::test]
async fn half_a_header_is_cut_off_after_the_header_read_timeout() {
    let limits = Limits {
        header_read: Duration::from_millis(300),
        ..Limits::default()
    };
    let server = start(limits).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream
        .write_all(b"GET / HTTP/1.1\r\nho")
        .await
        .expect("send");
    let started = Instant::now();
    assert!(closed_within(&mut stream, Duration::from_secs(5)).await);
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
    // A connection that sends nothing at all is closed the same way.
    let mut silent = TcpStream::connect(server.addr).await.expect("connect");
    assert!(closed_within(&mut silent, Duration::from_secs(5)).await);
}

#[tokio::test]
async fn a_trickled_body_fails_its_read_after_the_body_read_timeout() {
    let limits = Limits {
        body_read: Duration::from_millis(300),
        ..Limits::default()
    };
    let server = start(limits).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream
        .write_all(b"POST / HTTP/1.1\r\nhost: t\r\ncontent-length: 100\r\n\r\n0123456789")
        .await
        .expect("send part of the body");
    let mut answer = vec![0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("answered before the test gives up")
        .expect("read");
    let text = String::from_utf8_lossy(&answer[..n]);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
}

#[tokio::test]
async fn beyond_the_connection_cap_a_request_waits_for_a_free_place() {
    let limits = Limits {
        header_read: Duration::from_millis(500),
        max_connections: 2,
        ..Limits::default()
    };
    let server = start(limits).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(server.addr).await.expect("connect");
        stream.write_all(b"GET / HTTP/1.1\r\n").await.expect("send");
        held.push(stream);
    }
    // The third is served once the header timeout frees a place, not before.
    let started = Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(5), real_request(server.addr))
        .await
        .expect("answered once a place is free");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
}
