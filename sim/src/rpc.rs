//! The RPC front: ECS, ESS, STS, KMS and CLB requests, routed by `Action` and `Version`.
//!
//! Order of checks, as the API gateway does them: the parameters decode; `Action` and
//! `Version` name an operation the sim implements; the call is counted and injected faults
//! apply; the format is JSON or XML; then the signature — common parameters present,
//! `Timestamp` well formed and within ±15 minutes, AccessKeyId known (STS keys with their
//! SecurityToken, until they expire), signature equal to the one the sim computes over every
//! parameter but `Signature` with the request's own method, nonce not seen before — and only
//! then the operation.

use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};
use http::{Method, StatusCode};
use reimage_cloud::aliyun::sign::rpc;
use serde_json::Value;

use crate::error::RpcError;
use crate::keys::{AuthError, Principal};
use crate::params::Params;
use crate::state::SimState;
use crate::{ecs, ess, kms, slb, sts};

/// How far a request's Timestamp may be from the sim's clock.
pub const TIMESTAMP_WINDOW_SECONDS: i64 = 15 * 60;

/// The answer to one RPC request, before it is put on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcAnswer {
    /// HTTP status.
    pub status: StatusCode,
    /// JSON body (with `RequestId`).
    pub body: Value,
    /// Whether the client asked for XML.
    pub xml: bool,
    /// The Action, for the XML root element.
    pub action: String,
}

/// A product the RPC front serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Product {
    Ecs,
    Ess,
    /// ESS's 2022-02-22 version: the instance-refresh operations.
    Ess2022,
    Sts,
    Kms,
    Slb,
}

impl Product {
    fn from_version(version: &str) -> Option<Self> {
        match version {
            ecs::VERSION => Some(Self::Ecs),
            ess::VERSION => Some(Self::Ess),
            ess::refresh::VERSION => Some(Self::Ess2022),
            sts::VERSION => Some(Self::Sts),
            kms::VERSION => Some(Self::Kms),
            slb::VERSION => Some(Self::Slb),
            _ => None,
        }
    }

    fn actions(self) -> &'static [&'static str] {
        match self {
            Self::Ecs => ecs::ACTIONS,
            Self::Ess => ess::ACTIONS,
            Self::Ess2022 => ess::refresh::ACTIONS,
            Self::Sts => sts::ACTIONS,
            Self::Kms => kms::ACTIONS,
            Self::Slb => slb::ACTIONS,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Ecs => "Ecs",
            Self::Ess | Self::Ess2022 => "Ess",
            Self::Sts => "Sts",
            Self::Kms => "Kms",
            Self::Slb => "Slb",
        }
    }

    fn host(self) -> &'static str {
        match self {
            Self::Ecs => "ecs.aliyuncs.com",
            Self::Ess | Self::Ess2022 => "ess.aliyuncs.com",
            Self::Sts => "sts.aliyuncs.com",
            Self::Kms => "kms.aliyuncs.com",
            Self::Slb => "slb.aliyuncs.com",
        }
    }
}

fn request_id() -> String {
    uuid::Uuid::new_v4().to_string().to_ascii_uppercase()
}

/// How a request is signed.
#[derive(Debug, Clone)]
pub enum Signed {
    /// The RPC signature v1 (`Signature`, `SignatureMethod=HMAC-SHA1` … among the parameters).
    V1,
    /// `ACS3-HMAC-SHA256` in the `Authorization` header.
    V3(Acs3Request),
}

/// What a V3 signature covers besides the method.
#[derive(Clone)]
pub struct Acs3Request {
    /// The query's pairs, decoded.
    pub query: Vec<(String, String)>,
    /// Every header, names lower-case.
    pub headers: Vec<(String, String)>,
    /// Hex SHA-256 of the body as received.
    pub body_sha256: String,
}

impl std::fmt::Debug for Acs3Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A security token travels in a header: only names are shown.
        f.debug_struct("Acs3Request")
            .field(
                "query",
                &self.query.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Handles one RPC request whose parameters (query and form body; for a V3 request, the
/// action and version from its headers too) are `params`.
pub async fn handle(
    state: &Arc<SimState>,
    method: &Method,
    params: Result<Params, RpcError>,
    signed: Signed,
) -> RpcAnswer {
    let request_id = request_id();
    let mut product = None;
    let mut action = String::from("Error");
    let mut xml = false;
    let result = async {
        let p = params?;
        action = p.required("Action")?.to_owned();
        xml = p
            .get("Format")
            .is_some_and(|f| f.eq_ignore_ascii_case("XML"));
        state.count_call(&action);
        let version = p.required("Version")?;
        let found = Product::from_version(version).ok_or_else(|| {
            RpcError::bad_request(
                "NoSuchVersion",
                format!(
                    "The specified version \"{}\" does not exist.",
                    crate::params::truncate(version, 40)
                ),
            )
        })?;
        product = Some(found);
        if !found.actions().contains(&action.as_str()) {
            return Err(RpcError::unknown_action(&action, version));
        }
        let (delay, fault) = state.faults().on_call(&action);
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        if let Some(err) = fault {
            return Err(err);
        }
        if let Some(format) = p.get("Format") {
            if !format.eq_ignore_ascii_case("JSON") && !format.eq_ignore_ascii_case("XML") {
                return Err(RpcError::invalid("Format", "must be JSON or XML"));
            }
        }
        let principal = match &signed {
            Signed::V1 => authenticate(state, method, &p)?,
            Signed::V3(request) => authenticate_v3(state, method, request)?,
        };
        dispatch(state, found, &action, &p, principal)
    }
    .await;
    let (status, mut body) = match result {
        Ok(mut body) => {
            if !body.is_object() {
                body = Value::Object(serde_json::Map::new());
            }
            (StatusCode::OK, body)
        }
        Err(err) => {
            let status = err.status;
            let (product, host) = product.map_or(("Sim", "127.0.0.1"), |p| (p.name(), p.host()));
            (status, err.into_body(&request_id, host, product))
        }
    };
    if let Some(obj) = body.as_object_mut() {
        obj.insert("RequestId".to_owned(), Value::String(request_id));
    }
    RpcAnswer {
        status,
        body,
        xml,
        action,
    }
}

fn dispatch(
    state: &SimState,
    product: Product,
    action: &str,
    p: &Params,
    principal: Principal,
) -> Result<Value, RpcError> {
    let ctx = state.ctx(principal);
    let mut region = state.region();
    region.ecs.settle(ctx.now);
    ess::refresh::settle(&mut region, ctx.now);
    let answer = match product {
        Product::Ecs => ecs::handle(action, p, &mut region.ecs, &ctx),
        Product::Ess => {
            let region = &mut *region;
            let answer = ess::handle(action, p, &mut region.ess, &region.ecs, &ctx);
            if matches!(answer, Some(Ok(_))) && matches!(action, "EnterStandby" | "ExitStandby") {
                sync_weights(region, p);
            }
            answer
        }
        Product::Ess2022 => ess::refresh::handle(action, p, &mut region, &ctx),
        Product::Slb => {
            let region = &mut *region;
            slb::handle(action, p, &mut region.slb, &region.ecs)
        }
        Product::Sts => sts::handle(
            action,
            p,
            &region.account_id,
            &region.roles,
            &state.keys,
            &ctx,
        ),
        Product::Kms => kms::handle(
            action,
            p,
            &kms::KmsRegion {
                region_id: &region.region_id,
                account_id: &region.account_id,
                kms_keys: &region.kms_keys,
            },
        ),
    };
    answer.unwrap_or_else(|| Err(RpcError::unknown_action(action, "")))
}

/// After EnterStandby or ExitStandby: each named instance's weight in every load balancer
/// and vServer group of its group follows its lifecycle (0 in Standby, 50 back in service,
/// as the ESS documentation says).
fn sync_weights(region: &mut crate::state::Region, p: &Params) {
    let Some(group) = p
        .get("ScalingGroupId")
        .and_then(|id| region.ess.groups.iter().find(|g| g.scaling_group_id == id))
    else {
        return;
    };
    let lbs = group.load_balancer_ids.clone();
    let vsgs: Vec<String> = group
        .vserver_groups
        .iter()
        .map(|a| a.vserver_group_id.clone())
        .collect();
    let ids: Vec<String> = p
        .list("InstanceId", 100)
        .unwrap_or_default()
        .into_iter()
        .map(str::to_owned)
        .collect();
    for instance in region
        .ess
        .instances
        .iter()
        .filter(|i| ids.contains(&i.instance_id))
    {
        region.slb.set_weight(
            &lbs,
            &vsgs,
            &instance.instance_id,
            instance.load_balancer_weight,
        );
    }
}

/// Parses `yyyy-MM-ddTHH:mm:ssZ` (fractional seconds accepted).
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    ["%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S%.fZ"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(|t| t.and_utc())
}

fn auth_error(err: AuthError) -> RpcError {
    let status = match err {
        AuthError::NotFound => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_REQUEST,
    };
    RpcError::new(status, err.code(), err.to_string())
}

/// Checks the signature of `p` sent with `method`; says who signed it.
pub fn authenticate(state: &SimState, method: &Method, p: &Params) -> Result<Principal, RpcError> {
    let access_key_id = p.required("AccessKeyId")?;
    let signature = p.required("Signature")?;
    let sig_method = p.required("SignatureMethod")?;
    let sig_version = p.required("SignatureVersion")?;
    if sig_method != "HMAC-SHA1" || sig_version != "1.0" {
        return Err(RpcError::bad_request(
            "IncompleteSignature",
            "The request signature does not conform to Alibaba Cloud standards: \
             SignatureMethod must be HMAC-SHA1 and SignatureVersion 1.0.",
        ));
    }
    let nonce = p.required("SignatureNonce")?;
    let raw_ts = p.required("Timestamp")?;
    let ts = parse_timestamp(raw_ts).ok_or_else(|| {
        RpcError::bad_request(
            "InvalidTimeStamp.Format",
            format!(
                "Specified time stamp or date value is not well formatted: \"{}\" (expected yyyy-MM-ddTHH:mm:ssZ).",
                crate::params::truncate(raw_ts, 40)
            ),
        )
    })?;
    let wall = state.wall_now();
    if (wall - ts).num_seconds().abs() > TIMESTAMP_WINDOW_SECONDS {
        return Err(RpcError::bad_request(
            "InvalidTimeStamp.Expired",
            format!(
                "Specified time stamp or date value is expired: {raw_ts} is more than 15 minutes from the server time {}.",
                wall.format("%Y-%m-%dT%H:%M:%SZ")
            ),
        ));
    }
    let (secret, principal) = state
        .keys
        .authenticate(access_key_id, p.get("SecurityToken"), state.now())
        .map_err(auth_error)?;
    let string_to_sign = rpc::string_to_sign(method.as_str(), &rpc::canonical_query(p.iter()));
    let expected = rpc::signature(&secret, &string_to_sign);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        expected.as_bytes(),
        signature.as_bytes(),
    )) {
        return Err(RpcError::bad_request(
            "SignatureDoesNotMatch",
            format!(
                "Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}"
            ),
        ));
    }
    if !state.use_nonce(nonce, wall) {
        return Err(RpcError::bad_request(
            "SignatureNonceUsed",
            "Specified signature nonce was used already.",
        ));
    }
    Ok(principal)
}

/// Checks a V3 (`ACS3-HMAC-SHA256`) signature; says who signed it. Every `x-acs-*` header
/// sent and `host` must be among the signed headers; the payload hash must be the body's; the
/// date and nonce rules are those of v1.
pub fn authenticate_v3(
    state: &SimState,
    method: &Method,
    request: &Acs3Request,
) -> Result<Principal, RpcError> {
    use reimage_cloud::aliyun::sign::acs3;
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let incomplete = |why: String| {
        RpcError::bad_request(
            "IncompleteSignature",
            format!("The request signature does not conform to Alibaba Cloud standards: {why}"),
        )
    };
    let authorization = header("authorization")
        .and_then(acs3::parse_authorization)
        .ok_or_else(|| {
            incomplete(
                "Authorization must be \"ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…\"."
                    .to_owned(),
            )
        })?;
    let signed: Vec<&str> = authorization.signed_headers.split(';').collect();
    for (name, _) in &request.headers {
        if (name.starts_with("x-acs-") || name == "host") && !signed.contains(&name.as_str()) {
            return Err(incomplete(format!("the header {name} is not signed.")));
        }
    }
    // The content type decides whether the body's parameters count: a body must come with a
    // signed one.
    if request.body_sha256 != acs3::hex_sha256(b"") && !signed.contains(&"content-type") {
        return Err(incomplete(
            "a request with a body must sign its content-type header.".to_owned(),
        ));
    }
    for name in [
        "host",
        "x-acs-action",
        "x-acs-version",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-content-sha256",
    ] {
        if header(name).is_none() {
            return Err(RpcError::bad_request(
                "MissingParameter",
                format!(
                    "The input parameter \"{name}\" that is mandatory for processing this request is not supplied."
                ),
            ));
        }
    }
    let payload = header("x-acs-content-sha256").unwrap_or_default();
    if payload != request.body_sha256 {
        return Err(RpcError::bad_request(
            "InvalidParameter",
            "The specified value of x-acs-content-sha256 is not the SHA-256 of the request body.",
        ));
    }
    let raw_date = header("x-acs-date").unwrap_or_default();
    let date = parse_timestamp(raw_date).ok_or_else(|| {
        RpcError::bad_request(
            "InvalidTimeStamp.Format",
            format!(
                "Specified time stamp or date value is not well formatted: \"{}\" (expected yyyy-MM-ddTHH:mm:ssZ).",
                crate::params::truncate(raw_date, 40)
            ),
        )
    })?;
    let wall = state.wall_now();
    if (wall - date).num_seconds().abs() > TIMESTAMP_WINDOW_SECONDS {
        return Err(RpcError::bad_request(
            "InvalidTimeStamp.Expired",
            format!(
                "Specified time stamp or date value is expired: {raw_date} is more than 15 minutes from the server time {}.",
                wall.format("%Y-%m-%dT%H:%M:%SZ")
            ),
        ));
    }
    let (secret, principal) = state
        .keys
        .authenticate(
            authorization.credential,
            header("x-acs-security-token"),
            state.now(),
        )
        .map_err(auth_error)?;
    let (canonical_headers, signed_headers) = acs3::canonical_headers(
        signed
            .iter()
            .map(|name| (*name, header(name).unwrap_or_default())),
    );
    let canonical = acs3::canonical_request(
        method.as_str(),
        "/",
        &acs3::canonical_query(request.query.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        &canonical_headers,
        &signed_headers,
        payload,
    );
    let expected = acs3::signature(&secret, &acs3::string_to_sign(&canonical));
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        expected.as_bytes(),
        authorization.signature.as_bytes(),
    )) {
        return Err(RpcError::bad_request(
            "SignatureDoesNotMatch",
            format!(
                "Specified signature is not matched with our calculation. server canonical request is:{canonical}"
            ),
        ));
    }
    if !state.use_nonce(header("x-acs-signature-nonce").unwrap_or_default(), wall) {
        return Err(RpcError::bad_request(
            "SignatureNonceUsed",
            "Specified signature nonce was used already.",
        ));
    }
    Ok(principal)
}

/// Renders a JSON answer as the cloud's XML: the root is `<ActionResponse>` (or `<Error>`),
/// objects become nested elements and arrays repeat their element.
pub fn to_xml(action: &str, status: StatusCode, body: &Value) -> String {
    fn escape(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    }
    fn write(out: &mut String, name: &str, value: &Value) {
        match value {
            Value::Array(items) => {
                for item in items {
                    write(out, name, item);
                }
            }
            Value::Object(map) => {
                out.push_str(&format!("<{name}>"));
                for (k, v) in map {
                    write(out, k, v);
                }
                out.push_str(&format!("</{name}>"));
            }
            Value::Null => out.push_str(&format!("<{name}/>")),
            Value::String(s) => out.push_str(&format!("<{name}>{}</{name}>", escape(s))),
            other => out.push_str(&format!("<{name}>{other}</{name}>")),
        }
    }
    let root = if status.is_success() {
        format!("{action}Response")
    } else {
        "Error".to_owned()
    };
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    write(&mut out, &root, body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps_parse_in_the_cloud_format_only() {
        assert!(parse_timestamp("2026-01-02T03:04:05Z").is_some());
        assert!(parse_timestamp("2026-01-02T03:04:05.123Z").is_some());
        assert!(parse_timestamp("2026-01-02 03:04:05").is_none());
        assert!(parse_timestamp("2026-13-02T03:04:05Z").is_none());
        assert!(parse_timestamp("").is_none());
    }

    #[test]
    fn xml_repeats_list_elements() {
        let body = json!({"RequestId": "R", "Images": {"Image": [{"ImageId": "m-1"}, {"ImageId": "m-2"}]}, "TotalCount": 2});
        let xml = to_xml("DescribeImages", StatusCode::OK, &body);
        assert!(xml.contains("<DescribeImagesResponse>"), "{xml}");
        assert!(xml.contains("<Images><Image><ImageId>m-1</ImageId></Image><Image><ImageId>m-2</ImageId></Image></Images>"), "{xml}");
        assert!(xml.contains("<TotalCount>2</TotalCount>"));
        let err = to_xml("X", StatusCode::BAD_REQUEST, &json!({"Code": "A<B"}));
        assert!(err.contains("<Error><Code>A&lt;B</Code></Error>"), "{err}");
    }
}
