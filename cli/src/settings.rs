//! What the commands that talk to the cloud or to the state share: the region, the signed
//! client (endpoints and the credential chain), the state store and the engine.
//!
//! Everything comes from one [`Env`] read once in `main`:
//!
//! | setting | source |
//! |---|---|
//! | region | `REIMAGE_REGION`, else `ALIBABA_CLOUD_REGION_ID`, else `cn-hangzhou` |
//! | endpoints | the region's, overridden by `REIMAGE_ENDPOINT` / `REIMAGE_<SERVICE>_ENDPOINT` |
//! | credentials | the chain: `ALIBABA_CLOUD_ACCESS_KEY_ID` / `_SECRET` / `_SECURITY_TOKEN`, then `~/.aliyun/config.json` |
//! | store | `REIMAGE_STORE`, else the file store in `--state-dir`, `REIMAGE_STATE_DIR` or `./.reimage` |

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use reimage::aliyun::chain::{ChainSources, resolve_chain};
use reimage::aliyun::oss::OssClient;
use reimage::aliyun::{Client, ClientConfig, Endpoints};
use reimage::clock::SharedClock;
use reimage::dispatch::local::LocalDispatcher;
use reimage::ids::{RandomIds, SharedIds};
use reimage::settings::Env;
use reimage::steps::{AliyunClouds, CloudProvider, Engine};
use reimage::store::SharedStore;
use reimage::store::url::{StoreLocation, open_store};

/// The region when nothing says otherwise.
pub const DEFAULT_REGION: &str = "cn-hangzhou";

/// The region: `REIMAGE_REGION`, else `ALIBABA_CLOUD_REGION_ID`, else [`DEFAULT_REGION`].
pub fn region(env: &Env) -> String {
    env.get("REIMAGE_REGION")
        .or_else(|| env.get("ALIBABA_CLOUD_REGION_ID"))
        .unwrap_or(DEFAULT_REGION)
        .to_owned()
}

/// The signed client for the configured region and endpoints, with credentials from the
/// chain. Fails, naming every place it looked, when no credentials are configured.
pub fn client(env: &Env, clock: SharedClock, ids: SharedIds) -> anyhow::Result<Client> {
    let region = region(env);
    let endpoints = Endpoints::from_env(&region, None, env);
    // The template gives the chain's own STS calls (RamRoleArn profiles) the same region,
    // endpoints, clock and ids; its credentials are replaced by what the chain finds.
    let mut template = ClientConfig::new(
        region.clone(),
        endpoints,
        reimage::aliyun::credentials::StaticProvider::shared(
            reimage::aliyun::Credentials::access_key("", ""),
        ),
    );
    template.clock = clock;
    template.ids = ids;
    template.allow_plain_http = reimage::settings::allow_plain_http(env);
    let sources = ChainSources {
        env: env.clone(),
        ..ChainSources::default()
    };
    let (credentials, _source) =
        resolve_chain(&sources, &template).context("no credentials for the cloud")?;
    let config = ClientConfig {
        credentials,
        ..template
    };
    Client::new(config).context("cannot set up the HTTP client")
}

/// Opens the configured state store: `REIMAGE_STORE`, else the file store in the state
/// directory (`state_dir`, else `REIMAGE_STATE_DIR`, else `./.reimage`). An OSS store is
/// reached with the same endpoints and credentials as every other cloud call; a file store
/// needs neither.
pub fn store(
    env: &Env,
    state_dir: Option<&Path>,
    clock: SharedClock,
) -> anyhow::Result<SharedStore> {
    let dir = env.state_dir(state_dir);
    let location = StoreLocation::from_env(env, &dir)?;
    let store = open_store(&location, || {
        let client = client(env, clock, Arc::new(RandomIds))?;
        Ok(OssClient::from_client(&client)?)
    })?;
    Ok(store)
}

/// An engine over `store` and `clouds`, stepping in this process through `dispatcher`.
pub fn engine(
    store: SharedStore,
    clock: SharedClock,
    dispatcher: Arc<LocalDispatcher>,
    clouds: Arc<dyn CloudProvider>,
) -> Engine {
    Engine::new(store, clock, Arc::new(RandomIds), dispatcher, clouds)
}

/// The cloud provider for the configured client: the account's own credentials, or a RAM
/// role assumed through STS for executions that ask for one.
pub fn clouds(client: Client) -> Arc<dyn CloudProvider> {
    Arc::new(AliyunClouds::new(client))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_prefers_reimage_then_alibaba_cloud_then_default() {
        let both = Env::from_pairs([
            ("REIMAGE_REGION", "cn-beijing"),
            ("ALIBABA_CLOUD_REGION_ID", "cn-shanghai"),
        ]);
        assert_eq!(region(&both), "cn-beijing");
        let sdk = Env::from_pairs([("ALIBABA_CLOUD_REGION_ID", "cn-shanghai")]);
        assert_eq!(region(&sdk), "cn-shanghai");
        assert_eq!(region(&Env::default()), DEFAULT_REGION);
    }

    #[test]
    fn client_without_credentials_names_where_it_looked() {
        let env = Env::from_pairs([("REIMAGE_ENDPOINT", "http://127.0.0.1:9")]);
        let err = client(
            &env,
            Arc::new(reimage::clock::SystemClock),
            Arc::new(RandomIds),
        )
        .expect_err("no credentials anywhere");
        let shown = format!("{err:#}");
        assert!(shown.contains("no credentials"), "{shown}");
        assert!(shown.contains("environment"), "{shown}");
    }

    #[test]
    fn client_uses_the_endpoint_override() {
        let env = Env::from_pairs([
            ("REIMAGE_ENDPOINT", "http://127.0.0.1:9"),
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIexample"),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "secret-value"),
        ]);
        let client = client(
            &env,
            Arc::new(reimage::clock::SystemClock),
            Arc::new(RandomIds),
        )
        .expect("credentials from the environment");
        assert_eq!(
            client.endpoints().get(reimage::aliyun::Service::Ecs),
            Some("http://127.0.0.1:9")
        );
        assert_eq!(client.region_id(), DEFAULT_REGION);
    }

    #[test]
    fn oss_store_needs_credentials_and_a_file_store_does_not() {
        let clock: SharedClock = Arc::new(reimage::clock::SystemClock);
        let env = Env::from_pairs([("REIMAGE_STORE", "oss://reimage-state/prod")]);
        let err = store(&env, None, clock.clone()).expect_err("no credentials for OSS");
        let shown = format!("{err:#}");
        assert!(shown.contains("oss://reimage-state/prod"), "{shown}");
        assert!(shown.contains("no credentials"), "{shown}");
        let dir = tempfile::tempdir().expect("temp dir");
        store(&Env::default(), Some(dir.path()), clock).unwrap();
    }
}
