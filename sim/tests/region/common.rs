//! A tiny signed RPC client for the sim's own tests: builds the common parameters, signs with
//! the core's RPC v1 signer and sends GET (query) or POST (form body).

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use reimage_cloud::aliyun::sign::rpc;
use reimage_cloud::clock::{Clock, ManualClock};
use reimage_sim::Sim;
use serde_json::Value;

/// The moment tests start at.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap()
}

/// A sim on a manual clock, images taking 100 s.
pub async fn sim() -> (Sim, ManualClock) {
    let clock = ManualClock::new(t0());
    let sim = Sim::builder()
        .clock(Arc::new(clock.clone()))
        .image_seconds(100)
        .start()
        .await
        .unwrap();
    (sim, clock)
}

/// The ECS/ESS client of reimage, pointed at `sim`, on `clock`.
pub fn client(sim: &Sim, clock: &ManualClock) -> reimage_cloud::aliyun::Client {
    let mut config = sim.client_config();
    config.clock = Arc::new(clock.clone());
    reimage_cloud::aliyun::Client::new(config).expect("client")
}

/// The cloud's answer to a refused call: (HTTP status, Code).
pub fn refusal(err: reimage_cloud::aliyun::Error) -> (u16, String) {
    match err {
        reimage_cloud::aliyun::Error::Api { source, .. } => (source.status, source.code),
        other => panic!("expected an error answer from the sim, got {other:?}"),
    }
}

/// Credentials to sign with.
#[derive(Clone)]
pub struct Creds {
    pub id: String,
    pub secret: String,
    pub token: Option<String>,
}

impl Creds {
    pub fn of(sim: &Sim) -> Self {
        Self {
            id: sim.access_key_id().to_owned(),
            secret: sim.access_key_secret().to_owned(),
            token: None,
        }
    }
}

/// One signed call.
pub struct Call<'a> {
    pub endpoint: String,
    pub clock: &'a dyn Clock,
    pub creds: Creds,
    pub post: bool,
    pub timestamp: Option<String>,
    pub nonce: Option<String>,
}

static NONCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

pub fn version_of(action: &str) -> &'static str {
    match action {
        "DescribeScalingGroups"
        | "DescribeScalingConfigurations"
        | "DescribeEciScalingConfigurations"
        | "ModifyScalingConfiguration"
        | "ModifyScalingGroup"
        | "DescribeScalingInstances"
        | "EnterStandby"
        | "ExitStandby"
        | "SetInstancesProtection"
        | "SuspendProcesses"
        | "ResumeProcesses"
        | "DescribeScalingActivities" => "2014-08-28",
        "StartInstanceRefresh"
        | "DescribeInstanceRefreshes"
        | "SuspendInstanceRefresh"
        | "ResumeInstanceRefresh"
        | "RollbackInstanceRefresh"
        | "CancelInstanceRefresh" => "2022-02-22",
        "AssumeRole" | "GetCallerIdentity" => "2015-04-01",
        _ => "2014-05-26",
    }
}

impl<'a> Call<'a> {
    pub fn new(sim: &Sim, clock: &'a dyn Clock) -> Self {
        Self {
            endpoint: sim.endpoint().to_owned(),
            clock,
            creds: Creds::of(sim),
            post: false,
            timestamp: None,
            nonce: None,
        }
    }

    /// The full signed parameter list for `action`.
    pub fn signed(&self, action: &str, params: &[(&str, &str)]) -> Vec<(String, String)> {
        let ts = self
            .timestamp
            .clone()
            .unwrap_or_else(|| self.clock.now().format("%Y-%m-%dT%H:%M:%SZ").to_string());
        let nonce = self.nonce.clone().unwrap_or_else(|| {
            format!(
                "nonce-{}-{}",
                NONCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                uuid_like()
            )
        });
        let mut all: Vec<(String, String)> = vec![
            ("Action".into(), action.into()),
            ("Version".into(), version_of(action).into()),
            ("Format".into(), "JSON".into()),
            ("AccessKeyId".into(), self.creds.id.clone()),
            ("SignatureMethod".into(), "HMAC-SHA1".into()),
            ("SignatureVersion".into(), "1.0".into()),
            ("SignatureNonce".into(), nonce),
            ("Timestamp".into(), ts),
        ];
        if let Some(token) = &self.creds.token {
            all.push(("SecurityToken".into(), token.clone()));
        }
        for (k, v) in params {
            if let Some(slot) = all.iter_mut().find(|(name, _)| name == k) {
                slot.1 = (*v).to_owned();
            } else {
                all.push(((*k).to_owned(), (*v).to_owned()));
            }
        }
        let method = if self.post { "POST" } else { "GET" };
        let sig = rpc::sign(
            method,
            all.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            &self.creds.secret,
        );
        all.push(("Signature".into(), sig));
        all
    }

    /// Sends `action` and returns (status, JSON body).
    pub async fn send(&self, action: &str, params: &[(&str, &str)]) -> (u16, Value) {
        let all = self.signed(action, params);
        send_raw(&self.endpoint, self.post, &all).await
    }

    /// The image `image_id` as DescribeImages answers it, Creating or Available.
    pub async fn image(&self, image_id: &str) -> Value {
        let found = self
            .ok(
                "DescribeImages",
                &[
                    ("RegionId", "cn-hangzhou"),
                    ("ImageId", image_id),
                    ("Status", "Creating,Available"),
                ],
            )
            .await;
        found["Images"]["Image"][0].clone()
    }

    /// Sends `action`, panicking unless it succeeds.
    pub async fn ok(&self, action: &str, params: &[(&str, &str)]) -> Value {
        let (status, body) = self.send(action, params).await;
        assert_eq!(status, 200, "{action} failed: {body}");
        body
    }

    /// Sends `action`, panicking unless it fails; returns (status, Code, Message).
    pub async fn err(&self, action: &str, params: &[(&str, &str)]) -> (u16, String, String) {
        let (status, body) = self.send(action, params).await;
        assert_ne!(status, 200, "{action} should have failed: {body}");
        assert!(body["RequestId"].is_string(), "{body}");
        (
            status,
            body["Code"].as_str().unwrap_or_default().to_owned(),
            body["Message"].as_str().unwrap_or_default().to_owned(),
        )
    }
}

fn uuid_like() -> String {
    format!("{:x}", std::process::id())
}

pub fn encode(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", rpc::percent_encode(k), rpc::percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub async fn send_raw(endpoint: &str, post: bool, all: &[(String, String)]) -> (u16, Value) {
    let client = reqwest::Client::new();
    let resp = if post {
        client
            .post(format!("{endpoint}/"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encode(all))
            .send()
            .await
            .unwrap()
    } else {
        client
            .get(format!("{endpoint}/?{}", encode(all)))
            .send()
            .await
            .unwrap()
    };
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, body)
}
