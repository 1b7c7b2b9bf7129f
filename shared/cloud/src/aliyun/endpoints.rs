//! Where each service is reached.
//!
//! Defaults follow the cloud's regional rules: `ecs.<region>.aliyuncs.com`;
//! `ess.aliyuncs.com` for the regions the official SDK's endpoint map sends there, else
//! `ess.<region>.aliyuncs.com`; `sts.aliyuncs.com`; `<account>.<region>.fc.aliyuncs.com`;
//! `oss-<region>.aliyuncs.com`; `kms.<region>.aliyuncs.com`; `slb.aliyuncs.com` for the
//! regions the official SDK's endpoint map sends there, else `slb.<region>.aliyuncs.com`.
//! All over HTTPS.
//!
//! Every one can be overridden from the environment ([`Endpoints::from_env`]): all at once
//! with `REIMAGE_ENDPOINT=http://host:port` (how the sim is reached: it serves every service
//! on one port), or one by one with `REIMAGE_ECS_ENDPOINT`, `REIMAGE_ESS_ENDPOINT`,
//! `REIMAGE_STS_ENDPOINT`, `REIMAGE_FC_ENDPOINT`, `REIMAGE_OSS_ENDPOINT`,
//! `REIMAGE_KMS_ENDPOINT`, `REIMAGE_SLB_ENDPOINT`; a per-service
//! variable wins over `REIMAGE_ENDPOINT`. A value without a scheme gets `https://`.
//!
//! Endpoints are base URLs with scheme and no trailing slash. The OSS one is the region's
//! endpoint, not a bucket's: the OSS client puts the bucket in front (virtual-hosted) or in
//! the path (path-style, as against the sim).

use crate::settings::Env;

/// Regions whose ESS endpoint is the central `ess.aliyuncs.com` (the official SDKs' endpoint
/// map; <https://www.alibabacloud.com/help/en/auto-scaling/developer-reference/api-ess-2022-02-22-endpoint>).
const CENTRAL_ESS_REGIONS: &[&str] = &[
    "cn-qingdao",
    "cn-beijing",
    "cn-hangzhou",
    "cn-shanghai",
    "cn-shenzhen",
    "cn-hongkong",
    "ap-southeast-1",
    "us-east-1",
    "us-west-1",
];

/// Regions whose CLB endpoint is the central `slb.aliyuncs.com` (the official SDK's endpoint
/// map, aliyun-python-sdk-slb's `endpoint.py`).
const CENTRAL_SLB_REGIONS: &[&str] = &[
    "cn-qingdao",
    "cn-beijing",
    "cn-zhangbei",
    "cn-hangzhou",
    "cn-shanghai",
    "cn-shenzhen",
    "cn-wuhan",
    "cn-fujian",
    "cn-hongkong",
    "ap-southeast-1",
    "us-east-1",
    "us-west-1",
];

/// A service reimage calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// Elastic Compute Service (RPC, 2014-05-26).
    Ecs,
    /// Auto Scaling (RPC, 2014-08-28).
    Ess,
    /// Security Token Service (RPC, 2015-04-01).
    Sts,
    /// Function Compute.
    Fc,
    /// Object Storage Service.
    Oss,
    /// Key Management Service (RPC, 2016-01-20): seals the secrets records hold.
    Kms,
    /// Classic Load Balancer (RPC, 2014-05-15): the backends a rollout checks and reweighs.
    Slb,
}

impl Service {
    /// Every service, in a fixed order.
    pub const ALL: [Service; 7] = [
        Service::Ecs,
        Service::Ess,
        Service::Sts,
        Service::Fc,
        Service::Oss,
        Service::Kms,
        Service::Slb,
    ];

    /// The RPC API version, for the RPC services.
    pub fn rpc_version(self) -> Option<&'static str> {
        match self {
            Service::Ecs => Some("2014-05-26"),
            Service::Ess => Some("2014-08-28"),
            Service::Sts => Some("2015-04-01"),
            Service::Kms => Some("2016-01-20"),
            Service::Slb => Some("2014-05-15"),
            Service::Fc | Service::Oss => None,
        }
    }

    /// The service's override variable, `REIMAGE_<SERVICE>_ENDPOINT`.
    pub fn env_var(self) -> &'static str {
        match self {
            Service::Ecs => "REIMAGE_ECS_ENDPOINT",
            Service::Ess => "REIMAGE_ESS_ENDPOINT",
            Service::Sts => "REIMAGE_STS_ENDPOINT",
            Service::Fc => "REIMAGE_FC_ENDPOINT",
            Service::Oss => "REIMAGE_OSS_ENDPOINT",
            Service::Kms => "REIMAGE_KMS_ENDPOINT",
            Service::Slb => "REIMAGE_SLB_ENDPOINT",
        }
    }

    /// Lower-case name, for logs.
    pub fn name(self) -> &'static str {
        match self {
            Service::Ecs => "ecs",
            Service::Ess => "ess",
            Service::Sts => "sts",
            Service::Fc => "fc",
            Service::Oss => "oss",
            Service::Kms => "kms",
            Service::Slb => "slb",
        }
    }
}

/// Base URLs of every service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// ECS.
    pub ecs: String,
    /// ESS.
    pub ess: String,
    /// STS.
    pub sts: String,
    /// Function Compute; `None` when the account id is unknown and nothing overrides it.
    pub fc: Option<String>,
    /// OSS (the region's endpoint).
    pub oss: String,
    /// KMS.
    pub kms: String,
    /// CLB.
    pub slb: String,
}

impl Endpoints {
    /// The cloud's endpoints for `region_id`; FC's needs the account id.
    pub fn for_region(region_id: &str, account_id: Option<&str>) -> Self {
        let ess = if CENTRAL_ESS_REGIONS.contains(&region_id) {
            "https://ess.aliyuncs.com".to_owned()
        } else {
            format!("https://ess.{region_id}.aliyuncs.com")
        };
        Self {
            ecs: format!("https://ecs.{region_id}.aliyuncs.com"),
            ess,
            sts: "https://sts.aliyuncs.com".to_owned(),
            fc: account_id.map(|a| format!("https://{a}.{region_id}.fc.aliyuncs.com")),
            oss: format!("https://oss-{region_id}.aliyuncs.com"),
            kms: format!("https://kms.{region_id}.aliyuncs.com"),
            slb: if CENTRAL_SLB_REGIONS.contains(&region_id) {
                "https://slb.aliyuncs.com".to_owned()
            } else {
                format!("https://slb.{region_id}.aliyuncs.com")
            },
        }
    }

    /// Every service at one base URL (the sim).
    pub fn all_at(base: &str) -> Self {
        let base = normalize(base);
        Self {
            ecs: base.clone(),
            ess: base.clone(),
            sts: base.clone(),
            fc: Some(base.clone()),
            oss: base.clone(),
            kms: base.clone(),
            slb: base,
        }
    }

    /// The regional defaults with the `REIMAGE_*ENDPOINT` overrides of `env` applied.
    pub fn from_env(region_id: &str, account_id: Option<&str>, env: &Env) -> Self {
        let mut e = match env.get("REIMAGE_ENDPOINT") {
            Some(all) => Self::all_at(all),
            None => Self::for_region(region_id, account_id),
        };
        for service in Service::ALL {
            if let Some(v) = env.get(service.env_var()) {
                e.set(service, normalize(v));
            }
        }
        e
    }

    /// The base URL of `service` (`None` only for FC without account id or override).
    pub fn get(&self, service: Service) -> Option<&str> {
        match service {
            Service::Ecs => Some(&self.ecs),
            Service::Ess => Some(&self.ess),
            Service::Sts => Some(&self.sts),
            Service::Fc => self.fc.as_deref(),
            Service::Oss => Some(&self.oss),
            Service::Kms => Some(&self.kms),
            Service::Slb => Some(&self.slb),
        }
    }

    fn set(&mut self, service: Service, url: String) {
        match service {
            Service::Ecs => self.ecs = url,
            Service::Ess => self.ess = url,
            Service::Sts => self.sts = url,
            Service::Fc => self.fc = Some(url),
            Service::Oss => self.oss = url,
            Service::Kms => self.kms = url,
            Service::Slb => self.slb = url,
        }
    }
}

/// Checks that `region_id` has the form of an Alibaba Cloud region id before it goes into a
/// host name: lower-case letters, digits and single hyphens, starting with a letter, at least
/// two parts (`cn-hangzhou`, `ap-southeast-1`, `cn-shanghai-finance-1`), at most 64
/// characters. Region ids are listed at
/// https://www.alibabacloud.com/help/en/cloud-migration-guide-for-beginners/latest/regions-and-zones.
pub fn validate_region(region_id: &str) -> Result<(), String> {
    let parts: Vec<&str> = region_id.split('-').collect();
    let ok = region_id.len() <= 64
        && parts.len() >= 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts[0].bytes().all(|b| b.is_ascii_lowercase());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "region {region_id:?} is not a region id (lower-case letters, digits and hyphens, \
             such as cn-hangzhou or ap-southeast-1)"
        ))
    }
}

/// Checks the scheme of `service`'s endpoint `url`: `https://` anywhere; `http://` only to a
/// loopback host (`127.0.0.0/8`, `::1`, `localhost`: the sim) unless `allow_plain_http`.
pub fn check_scheme(service: Service, url: &str, allow_plain_http: bool) -> Result<(), String> {
    let parsed = url::Url::parse(url)
        .map_err(|e| format!("{} endpoint {url:?} is not a URL: {e}", service.name()))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if allow_plain_http || is_loopback(&parsed) => Ok(()),
        "http" => Err(format!(
            "{} endpoint {url} is plain http to a host other than loopback: requests and \
             their credentials would cross the network unencrypted; use https://, or set \
             REIMAGE_ALLOW_HTTP=1 if that is really meant",
            service.name()
        )),
        other => Err(format!(
            "{} endpoint {url} has scheme {other:?}; only https:// (and http:// to loopback) \
             are used",
            service.name()
        )),
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Adds `https://` to a bare host and drops trailing slashes.
fn normalize(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    if url.contains("://") {
        url.to_owned()
    } else {
        format!("https://{url}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_ids_are_checked_before_they_become_host_names() {
        for good in [
            "cn-hangzhou",
            "ap-southeast-1",
            "cn-shanghai-finance-1",
            "us-east-1",
        ] {
            assert_eq!(validate_region(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "cn",
            "CN-hangzhou",
            "cn-hangzhou.evil.com",
            "cn-hangzhou/x",
            "cn--hangzhou",
            "-cn-hangzhou",
            "cn-hangzhou-",
            "1cn-hangzhou",
            "cn-hang zhou",
            &"a-".repeat(40),
        ] {
            let err = validate_region(bad).unwrap_err();
            assert!(err.contains("is not a region id"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn plain_http_is_for_loopback_unless_allowed() {
        for ok in [
            "https://ecs.cn-hangzhou.aliyuncs.com",
            "http://127.0.0.1:8080",
            "http://127.9.9.9:1",
            "http://[::1]:9000",
            "http://localhost:9000",
            "http://LOCALHOST",
        ] {
            assert_eq!(check_scheme(Service::Ecs, ok, false), Ok(()), "{ok}");
        }
        for refused in [
            "http://10.0.0.5:8080",
            "http://ecs.cn-hangzhou.aliyuncs.com",
            "http://localhost.example.com",
            "http://127.0.0.1.nip.io",
        ] {
            let err = check_scheme(Service::Oss, refused, false).unwrap_err();
            assert!(
                err.starts_with("oss endpoint") && err.contains("REIMAGE_ALLOW_HTTP=1"),
                "{refused}: {err}"
            );
            assert_eq!(
                check_scheme(Service::Oss, refused, true),
                Ok(()),
                "{refused}"
            );
        }
        let err = check_scheme(Service::Fc, "ftp://127.0.0.1", true).unwrap_err();
        assert!(err.contains("scheme \"ftp\""), "{err}");
    }

    #[test]
    fn regional_defaults() {
        let e = Endpoints::for_region("cn-hangzhou", Some("1234"));
        assert_eq!(e.ecs, "https://ecs.cn-hangzhou.aliyuncs.com");
        assert_eq!(e.ess, "https://ess.aliyuncs.com");
        assert_eq!(e.sts, "https://sts.aliyuncs.com");
        assert_eq!(
            e.fc.as_deref(),
            Some("https://1234.cn-hangzhou.fc.aliyuncs.com")
        );
        assert_eq!(e.oss, "https://oss-cn-hangzhou.aliyuncs.com");
        assert_eq!(e.kms, "https://kms.cn-hangzhou.aliyuncs.com");
        let e = Endpoints::for_region("eu-central-1", None);
        assert_eq!(e.ess, "https://ess.eu-central-1.aliyuncs.com");
        assert_eq!(e.ecs, "https://ecs.eu-central-1.aliyuncs.com");
        assert_eq!(e.fc, None);
        assert_eq!(e.get(Service::Fc), None);
    }

    #[test]
    fn one_override_for_all_and_per_service_overrides_win() {
        let env = Env::from_pairs([
            ("REIMAGE_ENDPOINT", "http://127.0.0.1:8080/"),
            ("REIMAGE_STS_ENDPOINT", "sts.example.test"),
        ]);
        let e = Endpoints::from_env("cn-hangzhou", None, &env);
        assert_eq!(e.ecs, "http://127.0.0.1:8080");
        assert_eq!(e.ess, "http://127.0.0.1:8080");
        assert_eq!(e.oss, "http://127.0.0.1:8080");
        assert_eq!(e.fc.as_deref(), Some("http://127.0.0.1:8080"));
        assert_eq!(e.sts, "https://sts.example.test");
        assert_eq!(e.kms, "http://127.0.0.1:8080");

        let env = Env::from_pairs([
            ("REIMAGE_ECS_ENDPOINT", "http://127.0.0.1:1"),
            ("REIMAGE_ESS_ENDPOINT", "http://127.0.0.1:2"),
            ("REIMAGE_FC_ENDPOINT", "http://127.0.0.1:3"),
            ("REIMAGE_OSS_ENDPOINT", "http://127.0.0.1:4"),
            ("REIMAGE_KMS_ENDPOINT", "http://127.0.0.1:5"),
        ]);
        let e = Endpoints::from_env("cn-shanghai", None, &env);
        assert_eq!(e.get(Service::Ecs), Some("http://127.0.0.1:1"));
        assert_eq!(e.get(Service::Ess), Some("http://127.0.0.1:2"));
        assert_eq!(e.get(Service::Fc), Some("http://127.0.0.1:3"));
        assert_eq!(e.get(Service::Oss), Some("http://127.0.0.1:4"));
        assert_eq!(e.get(Service::Kms), Some("http://127.0.0.1:5"));
        assert_eq!(e.get(Service::Sts), Some("https://sts.aliyuncs.com"));
    }
}
