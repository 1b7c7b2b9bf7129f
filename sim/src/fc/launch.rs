//! Starting the functions template.yml declares, as Function Compute would: one process per
//! function, each on its own loopback port, with FC's environment.
//!
//! [`Template::parse`] reads the `Aliyun::Serverless::Service` and its functions (`Handler`,
//! `MemorySize`, `Timeout`, `EnvironmentVariables` with `Ref` and `Fn::Sub` resolved against
//! the parameters given, `AsyncConfiguration.MaxAsyncRetryAttempts`, and the `Timer` and
//! `HTTP` events). [`start`] runs a binary for each function with:
//!
//! | variable | value |
//! |---|---|
//! | `FC_SERVER_PORT`, `FC_CUSTOM_LISTEN_PORT` | a free loopback port |
//! | `FC_FUNCTION_NAME`, `FC_SERVICE_NAME`, `FC_FUNCTION_HANDLER`, `FC_FUNCTION_MEMORY_SIZE` | from the template |
//! | `FC_REGION`, `FC_ACCOUNT_ID` | the sim's |
//! | `ALIBABA_CLOUD_ACCESS_KEY_ID` / `_SECRET` / `_SECURITY_TOKEN` | the function's credentials |
//! | `REIMAGE_ENDPOINT` | the sim, so every cloud call the function makes comes back here |
//! | the template's `EnvironmentVariables` | as resolved |
//!
//! and registers each with the [`FcFront`] once its port accepts connections.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_yaml::Value;
use tokio::process::{Child, Command};

use reimage_cloud::aliyun::Credentials;

use super::state::{FcFront, FunctionSpec, HttpTrigger, TimerTrigger};

/// How long a function process may take to accept connections (FC allows 120 s).
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the template or a function process could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// template.yml is not what reimage deploys.
    #[error("template: {0}")]
    Template(String),
    /// A process could not be started.
    #[error("starting function {function}: {message}")]
    Start {
        /// The function.
        function: String,
        /// What went wrong.
        message: String,
    },
}

/// A function as template.yml declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateFunction {
    /// Its name.
    pub name: String,
    /// `CodeUri`.
    pub code_uri: String,
    /// `Handler`.
    pub handler: String,
    /// `MemorySize`.
    pub memory_mb: u32,
    /// `Timeout`.
    pub timeout_secs: u32,
    /// `CAPort`.
    pub ca_port: u16,
    /// `MaxAsyncRetryAttempts` (3 when not given).
    pub max_async_retries: u32,
    /// `EnvironmentVariables`, resolved.
    pub env: BTreeMap<String, String>,
    /// Timer events.
    pub timers: Vec<TimerTrigger>,
    /// The HTTP event.
    pub http: Option<HttpTrigger>,
}

/// The parts of template.yml the sim runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The service's name.
    pub service: String,
    /// Its functions.
    pub functions: Vec<TemplateFunction>,
}

fn bad(message: impl Into<String>) -> LaunchError {
    LaunchError::Template(message.into())
}

/// Resolves a template value to a string: a scalar, `Ref: <Parameter>`, or
/// `Fn::Sub: "...${Parameter}..."`.
fn resolve(
    value: &Value,
    params: &BTreeMap<String, String>,
    at: &str,
) -> Result<String, LaunchError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Mapping(m) => {
            if let Some(name) = m.get("Ref").and_then(Value::as_str) {
                return params
                    .get(name)
                    .cloned()
                    .ok_or_else(|| bad(format!("{at}: no value for parameter {name}")));
            }
            if let Some(text) = m.get("Fn::Sub").and_then(Value::as_str) {
                let mut out = String::new();
                let mut rest = text;
                while let Some(start) = rest.find("${") {
                    out.push_str(&rest[..start]);
                    let after = &rest[start + 2..];
                    let end = after
                        .find('}')
                        .ok_or_else(|| bad(format!("{at}: unclosed ${{ in {text:?}")))?;
                    let name = &after[..end];
                    let value = params
                        .get(name)
                        .ok_or_else(|| bad(format!("{at}: no value for parameter {name}")))?;
                    out.push_str(value);
                    rest = &after[end + 1..];
                }
                out.push_str(rest);
                return Ok(out);
            }
            Err(bad(format!("{at}: only Ref and Fn::Sub are understood")))
        }
        _ => Err(bad(format!("{at}: not a string"))),
    }
}

fn number(value: &Value, default: u64, at: &str) -> Result<u64, LaunchError> {
    match value {
        Value::Null => Ok(default),
        v => v
            .as_u64()
            .ok_or_else(|| bad(format!("{at} is not a whole number"))),
    }
}

impl Template {
    /// Reads template.yml's text, resolving parameters from `params` (then from their
    /// `Default`s).
    pub fn parse(text: &str, params: &BTreeMap<String, String>) -> Result<Self, LaunchError> {
        let doc: Value = serde_yaml::from_str(text).map_err(|e| bad(format!("not YAML: {e}")))?;
        let mut params = params.clone();
        if let Some(declared) = doc.get("Parameters").and_then(Value::as_mapping) {
            for (name, p) in declared {
                if let (Some(name), Some(default)) = (name.as_str(), p.get("Default")) {
                    if !params.contains_key(name) {
                        params.insert(name.to_owned(), resolve(default, &params, name)?);
                    }
                }
            }
        }
        let resources = doc
            .get("Resources")
            .and_then(Value::as_mapping)
            .ok_or_else(|| bad("no Resources"))?;
        let (service, body) = resources
            .iter()
            .find(|(_, r)| {
                r.get("Type").and_then(Value::as_str) == Some("Aliyun::Serverless::Service")
            })
            .ok_or_else(|| bad("no Aliyun::Serverless::Service"))?;
        let service = service
            .as_str()
            .ok_or_else(|| bad("service name"))?
            .to_owned();
        let mut functions = Vec::new();
        for (name, f) in body.as_mapping().into_iter().flatten() {
            if f.get("Type").and_then(Value::as_str) != Some("Aliyun::Serverless::Function") {
                continue;
            }
            let name = name
                .as_str()
                .ok_or_else(|| bad("function name"))?
                .to_owned();
            let p = f
                .get("Properties")
                .ok_or_else(|| bad(format!("{name}: no Properties")))?;
            let get = |k: &str| p.get(k).cloned().unwrap_or(Value::Null);
            let mut env = BTreeMap::new();
            for (k, v) in get("EnvironmentVariables")
                .as_mapping()
                .into_iter()
                .flatten()
            {
                let k = k
                    .as_str()
                    .ok_or_else(|| bad(format!("{name}: variable name")))?;
                env.insert(k.to_owned(), resolve(v, &params, &format!("{name}.{k}"))?);
            }
            let mut timers = Vec::new();
            let mut http = None;
            for (event, e) in f
                .get("Events")
                .and_then(Value::as_mapping)
                .into_iter()
                .flatten()
            {
                let event = event.as_str().unwrap_or_default().to_owned();
                let ep = e.get("Properties").cloned().unwrap_or(Value::Null);
                match e.get("Type").and_then(Value::as_str) {
                    Some("Timer") => timers.push(TimerTrigger {
                        cron: ep
                            .get("CronExpression")
                            .and_then(Value::as_str)
                            .ok_or_else(|| bad(format!("{name}.{event}: no CronExpression")))?
                            .to_owned(),
                        payload: ep.get("Payload").and_then(Value::as_str).map(str::to_owned),
                        enabled: ep.get("Enable").and_then(Value::as_bool).unwrap_or(true),
                        name: event,
                    }),
                    Some("HTTP") => {
                        http = Some(HttpTrigger {
                            methods: ep
                                .get("Methods")
                                .and_then(Value::as_sequence)
                                .into_iter()
                                .flatten()
                                .filter_map(Value::as_str)
                                .map(str::to_ascii_uppercase)
                                .collect(),
                            anonymous: ep
                                .get("AuthType")
                                .and_then(Value::as_str)
                                .is_none_or(|a| a.eq_ignore_ascii_case("anonymous")),
                        });
                    }
                    _ => {}
                }
            }
            functions.push(TemplateFunction {
                code_uri: get("CodeUri")
                    .as_str()
                    .ok_or_else(|| bad(format!("{name}: no CodeUri")))?
                    .to_owned(),
                handler: get("Handler").as_str().unwrap_or_default().to_owned(),
                memory_mb: u32::try_from(number(&get("MemorySize"), 128, "MemorySize")?)
                    .unwrap_or(128),
                timeout_secs: u32::try_from(number(&get("Timeout"), 3, "Timeout")?).unwrap_or(3),
                ca_port: u16::try_from(number(&get("CAPort"), 9000, "CAPort")?).unwrap_or(9000),
                max_async_retries: u32::try_from(number(
                    p.get("AsyncConfiguration")
                        .and_then(|a| a.get("MaxAsyncRetryAttempts"))
                        .unwrap_or(&Value::Null),
                    3,
                    "MaxAsyncRetryAttempts",
                )?)
                .unwrap_or(3),
                env,
                timers,
                http,
                name,
            });
        }
        if functions.is_empty() {
            return Err(bad(format!("service {service} declares no functions")));
        }
        Ok(Self { service, functions })
    }
}

/// A function process started by [`start`]. Dropping it kills the process.
#[derive(Debug)]
pub struct RunningFunction {
    /// What the front knows of it.
    pub spec: FunctionSpec,
    /// The process.
    pub child: Child,
}

impl RunningFunction {
    /// Kills the process (as if its instance died) and waits for it to go.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }
}

/// What every function process gets besides its own settings.
#[derive(Debug, Clone)]
pub struct LaunchSettings {
    /// The sim's endpoint, given as `REIMAGE_ENDPOINT`.
    pub endpoint: String,
    /// The sim's region.
    pub region_id: String,
    /// The sim's account.
    pub account_id: String,
    /// The credentials each function runs with.
    pub credentials: Credentials,
    /// Extra variables for every process (they win over the template's).
    pub extra_env: Vec<(String, String)>,
    /// Where each process's stdout and stderr go (inherit when `None`).
    pub log_dir: Option<PathBuf>,
}

/// The command that runs `function` from `binary` as FC would, listening on `port`: FC's
/// environment (the table in this module's documentation), the template's variables and
/// `settings.extra_env`, output to `settings.log_dir` (else inherited).
pub fn command(
    service: &str,
    function: &TemplateFunction,
    binary: &Path,
    settings: &LaunchSettings,
    port: u16,
) -> Result<Command, LaunchError> {
    let err = |message: String| LaunchError::Start {
        function: function.name.clone(),
        message,
    };
    let mut cmd = Command::new(binary);
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("FC_SERVER_PORT", port.to_string())
        .env("FC_CUSTOM_LISTEN_PORT", port.to_string())
        .env("FC_FUNCTION_NAME", &function.name)
        .env("FC_SERVICE_NAME", service)
        .env("FC_FUNCTION_HANDLER", &function.handler)
        .env("FC_FUNCTION_MEMORY_SIZE", function.memory_mb.to_string())
        .env("FC_REGION", &settings.region_id)
        .env("FC_ACCOUNT_ID", &settings.account_id)
        .env(
            "ALIBABA_CLOUD_ACCESS_KEY_ID",
            settings.credentials.access_key_id(),
        )
        .env(
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
            settings.credentials.secret(),
        )
        .env("REIMAGE_ENDPOINT", &settings.endpoint)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if let Some(token) = settings.credentials.security_token() {
        cmd.env("ALIBABA_CLOUD_SECURITY_TOKEN", token);
    }
    for (k, v) in &function.env {
        cmd.env(k, v);
    }
    for (k, v) in &settings.extra_env {
        cmd.env(k, v);
    }
    if let Some(dir) = &settings.log_dir {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("{}.log", function.name)))
            .map_err(|e| err(format!("log file: {e}")))?;
        let file2 = file
            .try_clone()
            .map_err(|e| err(format!("log file: {e}")))?;
        cmd.stdout(file).stderr(file2);
    }
    Ok(cmd)
}

/// A free loopback port.
pub fn free_port() -> std::io::Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
}

impl LaunchSettings {
    /// The settings for functions of `sim`'s region: its endpoint, region, account and
    /// AccessKey; no extra variables, output inherited.
    pub fn for_sim(sim: &crate::Sim) -> Self {
        Self {
            endpoint: sim.endpoint().to_owned(),
            region_id: sim.region_id().to_owned(),
            account_id: sim.state().region().account_id.clone(),
            credentials: Credentials::access_key(sim.access_key_id(), sim.access_key_secret()),
            extra_env: Vec::new(),
            log_dir: None,
        }
    }
}

/// Starts every function of `template`, each from its binary in `binaries` (keyed by function
/// name), as [`start`] does; stops at the first that cannot be started.
pub async fn start_all(
    front: &FcFront,
    template: &Template,
    binaries: &BTreeMap<String, PathBuf>,
    settings: &LaunchSettings,
) -> Result<Vec<RunningFunction>, LaunchError> {
    let mut running = Vec::with_capacity(template.functions.len());
    for function in &template.functions {
        let binary = binaries
            .get(&function.name)
            .ok_or_else(|| LaunchError::Start {
                function: function.name.clone(),
                message: "no binary given".into(),
            })?;
        running.push(start(front, &template.service, function, binary, settings).await?);
    }
    Ok(running)
}

/// Starts `function` from `binary` and registers it with `front` once it listens.
pub async fn start(
    front: &FcFront,
    service: &str,
    function: &TemplateFunction,
    binary: &Path,
    settings: &LaunchSettings,
) -> Result<RunningFunction, LaunchError> {
    let err = |message: String| LaunchError::Start {
        function: function.name.clone(),
        message,
    };
    let port = free_port().map_err(|e| err(format!("no free port: {e}")))?;
    let mut cmd = command(service, function, binary, settings, port)?;
    let mut child = cmd
        .spawn()
        .map_err(|e| err(format!("{}: {e}", binary.display())))?;
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(err(format!("exited before listening ({status})")));
        }
        if tokio::time::Instant::now() > deadline {
            let _ = child.kill().await;
            return Err(err(format!(
                "did not listen on port {port} within {} s",
                START_TIMEOUT.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let spec = FunctionSpec {
        service: service.to_owned(),
        name: function.name.clone(),
        url: format!("http://127.0.0.1:{port}"),
        handler: function.handler.clone(),
        memory_mb: function.memory_mb,
        timeout_secs: function.timeout_secs,
        max_async_retries: function.max_async_retries,
        credentials: Some(settings.credentials.clone()),
        timers: function.timers.clone(),
        http: function.http.clone(),
    };
    front.register(spec.clone());
    Ok(RunningFunction { spec, child })
}
