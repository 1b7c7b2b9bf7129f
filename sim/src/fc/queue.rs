//! The asynchronous queue: events wait until they are due, are delivered at least once, and
//! are tried again after a failure, 1, 2, 4 … seconds later, up to the function's retry limit.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::StatusCode;

use super::state::{Delivery, FcFront, FunctionSpec, Inner, Outcome, Queued, lock};

impl FcFront {
    /// Queues `event` to be delivered at `due`; answers its request id.
    pub(super) fn enqueue(&self, event: Queued, due: DateTime<Utc>) -> String {
        let request_id = event.request_id.clone();
        let order = self.inner.arrivals.fetch_add(1, Ordering::Relaxed);
        lock(&self.inner.queue).insert((due, order), event);
        self.inner.wake.notify_one();
        self.ensure_worker();
        request_id
    }

    pub(super) fn ensure_worker(&self) {
        if self.inner.worker.swap(true, Ordering::SeqCst) {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            self.inner.worker.store(false, Ordering::SeqCst);
            return;
        };
        let weak = Arc::downgrade(&self.inner);
        handle.spawn(worker(weak));
    }

    /// Sends `event` to the function as one `/invoke`; answers (status, body, failed) or why
    /// it got no answer. Records the delivery.
    pub(super) async fn deliver(
        &self,
        spec: &FunctionSpec,
        event: &Queued,
    ) -> Result<(StatusCode, Bytes, bool), String> {
        let control_path = "/invoke";
        let mut req = self
            .inner
            .http
            .post(format!("{}{control_path}", spec.url))
            .header(http::header::CONTENT_TYPE, "application/octet-stream")
            .timeout(Duration::from_secs(u64::from(spec.timeout_secs.max(1)) + 1))
            .body(event.payload.clone());
        for (k, v) in self.fc_headers(spec, control_path, &event.request_id) {
            req = req.header(k, v);
        }
        let started = Instant::now();
        let sent_at = self.now();
        let result = async {
            let resp = req.send().await.map_err(|e| e.to_string())?;
            let status = resp.status();
            let failed = status.is_server_error()
                || resp
                    .headers()
                    .get("x-fc-status")
                    .is_some_and(|v| v.as_bytes() == b"404");
            let body = resp.bytes().await.map_err(|e| e.to_string())?;
            Ok::<_, String>((status, body, failed))
        }
        .await;
        let outcome = match &result {
            Ok((_, _, false)) => Outcome::Succeeded,
            Ok((status, body, true)) => Outcome::FunctionError(format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            )),
            Err(e) => Outcome::NotReached(e.clone()),
        };
        self.record(Delivery {
            request_id: event.request_id.clone(),
            service: spec.service.clone(),
            function: spec.name.clone(),
            control_path,
            invocation_id: event.invocation_id.clone(),
            attempt: event.attempt,
            sent_at,
            duration: started.elapsed(),
            outcome,
            memory_mb: spec.memory_mb,
            timer: event.timer.clone(),
        });
        result
    }

    /// Delivers one queued event, re-queueing it after a failure while retries remain.
    pub(super) async fn run_queued(&self, queued: Queued) {
        let spec = lock(&self.inner.functions).get(&queued.key).cloned();
        let Some(spec) = spec else {
            lock(&self.inner.dropped).push(queued.request_id.clone());
            return;
        };
        let result = self.deliver(&spec, &queued).await;
        let ok = matches!(result, Ok((_, _, false)));
        if ok {
            return;
        }
        if queued.attempt > spec.max_async_retries {
            tracing::warn!(request_id = %queued.request_id, function = %spec.name, "async event dropped after its last retry");
            lock(&self.inner.dropped).push(queued.request_id.clone());
            return;
        }
        let backoff = 1i64 << (queued.attempt - 1).min(10);
        let due = self.now() + chrono::Duration::seconds(backoff);
        let order = self.inner.arrivals.fetch_add(1, Ordering::Relaxed);
        lock(&self.inner.queue).insert(
            (due, order),
            Queued {
                attempt: queued.attempt + 1,
                ..queued
            },
        );
        self.inner.wake.notify_one();
    }

    /// Takes every due event and fires every due timer.
    pub(super) fn due_work(&self) -> Vec<Queued> {
        self.fire_due_timers();
        let now = self.now();
        let mut queue = lock(&self.inner.queue);
        let mut out = Vec::new();
        while let Some(entry) = queue.first_entry() {
            if entry.key().0 > now {
                break;
            }
            out.push(entry.remove());
        }
        out
    }
}

/// The delivery loop: every 50 ms (or when woken) it delivers what is due. Ends when the
/// front is dropped.
async fn worker(weak: Weak<Inner>) {
    loop {
        let Some(inner) = weak.upgrade() else {
            return;
        };
        let front = FcFront { inner };
        for queued in front.due_work() {
            let f = front.clone();
            tokio::spawn(async move { f.run_queued(queued).await });
        }
        front.inner.passes.fetch_add(1, Ordering::SeqCst);
        let wake = {
            let inner = Arc::clone(&front.inner);
            drop(front);
            async move {
                tokio::select! {
                    () = inner.wake.notified() => {}
                    () = tokio::time::sleep(Duration::from_millis(50)) => {}
                }
            }
        };
        wake.await;
    }
}
