//! Timer triggers: each fires on its `CronExpression` as an asynchronous invocation carrying
//! FC's timer event `{"triggerTime", "triggerName", "payload"}`.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use reimage_cloud::aliyun::fc::timer::{TimerExpression, parse_cron};

use super::state::{FcFront, FunctionSpec, Queued, TimerTrigger, lock};

impl FcFront {
    /// Adds (or replaces, e.g. after a restart on another port) a function. Its timers start
    /// counting from now. Must be called inside a tokio runtime: it starts the delivery loop.
    pub fn register(&self, spec: FunctionSpec) {
        let now = self.now();
        {
            let mut timers = lock(&self.inner.timers);
            for t in &spec.timers {
                if let Some(next) = next_fire(&t.cron, now) {
                    timers
                        .entry((spec.service.clone(), spec.name.clone(), t.name.clone()))
                        .or_insert(next);
                }
            }
        }
        lock(&self.inner.functions).insert((spec.service.clone(), spec.name.clone()), spec);
        self.ensure_worker();
    }

    /// Fires `function`'s timer `trigger` now, as if its time had come.
    pub fn fire_timer(&self, service: &str, function: &str, trigger: &str) -> Result<(), String> {
        let spec = lock(&self.inner.functions)
            .get(&(service.to_owned(), function.to_owned()))
            .cloned()
            .ok_or_else(|| format!("no function {service}/{function}"))?;
        let timer = spec
            .timers
            .iter()
            .find(|t| t.name == trigger)
            .ok_or_else(|| format!("{service}/{function} has no timer {trigger}"))?;
        self.enqueue_timer(&spec, timer, self.now());
        Ok(())
    }

    pub(super) fn enqueue_timer(
        &self,
        spec: &FunctionSpec,
        timer: &TimerTrigger,
        at: DateTime<Utc>,
    ) {
        let event = serde_json::json!({
            "triggerTime": at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "triggerName": timer.name,
            "payload": timer.payload.clone().unwrap_or_default(),
        });
        self.enqueue(
            Queued::first(
                (spec.service.clone(), spec.name.clone()),
                Bytes::from(event.to_string()),
                None,
                Some(timer.name.clone()),
            ),
            self.now(),
        );
    }

    /// Queues an event for every enabled timer whose time has come, and sets its next time.
    pub(super) fn fire_due_timers(&self) {
        let now = self.now();
        let mut due_timers = Vec::new();
        {
            let functions = lock(&self.inner.functions);
            let mut timers = lock(&self.inner.timers);
            for spec in functions.values() {
                for t in spec.timers.iter().filter(|t| t.enabled) {
                    let key = (spec.service.clone(), spec.name.clone(), t.name.clone());
                    if let Some(next) = timers.get(&key).copied() {
                        if next <= now {
                            due_timers.push((spec.clone(), t.clone(), next));
                            match next_fire(&t.cron, now) {
                                Some(after) => {
                                    timers.insert(key, after);
                                }
                                None => {
                                    timers.remove(&key);
                                }
                            }
                        }
                    }
                }
            }
        }
        for (spec, timer, at) in due_timers {
            self.enqueue_timer(&spec, &timer, at);
        }
    }
}

/// The first time after `t` that the FC cron expression `cron` fires.
pub fn next_fire(cron: &str, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let expression: TimerExpression = parse_cron(cron).ok()?;
    expression.next_after(t)
}
