//! The AWS configuration, read from the environment variables Lambda gives every function.
//!
//! Inside Lambda the standard AWS configuration is its environment: the region and the
//! execution role's credentials are set as variables, and there are no shared config files,
//! no profiles and no instance metadata. So this module reads the standard variables, with
//! the SDK's names and rules, instead of linking aws-config: its loader also brings the
//! profile-file parser, the web identity and SSO providers with their own STS client, and
//! the IMDS client, none of which can answer inside Lambda, and they were a sixth of the
//! binary's code and 0.6 MiB of its resident memory (`make bench`).
//!
//! A value that cannot be used is logged and ignored, never fatal: a function that fails to
//! start answers no event, and every stack waiting on it would hang for an hour.

use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{future, ProvideCredentials};
use aws_sdk_eks::config::{AppName, Credentials};

/// The standard variables this function honours, as read at start-up.
#[derive(Debug, Clone)]
pub struct Environment {
    /// `AWS_REGION`, else `AWS_DEFAULT_REGION`.
    pub region: Option<String>,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`.
    pub credentials: EnvironmentCredentials,
    /// `AWS_ENDPOINT_URL_EKS`, else `AWS_ENDPOINT_URL`; neither when
    /// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is true.
    pub endpoint_url: Option<String>,
    /// `AWS_USE_FIPS_ENDPOINT`.
    pub use_fips: Option<bool>,
    /// `AWS_USE_DUALSTACK_ENDPOINT`.
    pub use_dual_stack: Option<bool>,
    /// `AWS_SDK_UA_APP_ID`, added to the User-Agent of every EKS call.
    pub app_name: Option<AppName>,
}

impl Environment {
    /// Reads the process's environment.
    pub fn read() -> Environment {
        Environment::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `var`, which returns a variable's value if it is set.
    /// Blank values count as unset, as they do for the SDK's own providers.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Environment {
        let get = |name: &str| {
            var(name)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        let flag = |name: &str| {
            let value = get(name)?;
            match value.to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => {
                    tracing::warn!(variable = name, value, "must be true or false; ignored");
                    None
                }
            }
        };
        let endpoint_url = if flag("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") == Some(true) {
            None
        } else {
            get("AWS_ENDPOINT_URL_EKS").or_else(|| get("AWS_ENDPOINT_URL"))
        };
        let app_name = get("AWS_SDK_UA_APP_ID").and_then(|value| match AppName::new(value) {
            Ok(name) => Some(name),
            Err(error) => {
                tracing::warn!(variable = "AWS_SDK_UA_APP_ID", %error, "ignored");
                None
            }
        });
        let credentials = match (
            get("AWS_ACCESS_KEY_ID"),
            // The SDK's environment provider accepts this older name too.
            get("AWS_SECRET_ACCESS_KEY").or_else(|| get("SECRET_ACCESS_KEY")),
        ) {
            (Some(key), Some(secret)) => EnvironmentCredentials(Some(Credentials::new(
                key,
                secret,
                get("AWS_SESSION_TOKEN"),
                None,
                "Environment",
            ))),
            _ => EnvironmentCredentials(None),
        };
        Environment {
            region: get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")),
            credentials,
            endpoint_url,
            use_fips: flag("AWS_USE_FIPS_ENDPOINT"),
            use_dual_stack: flag("AWS_USE_DUALSTACK_ENDPOINT"),
            app_name,
        }
    }

    /// The host the SDK will send EKS calls for `region` to, when it can be told without the
    /// SDK's partition table, so that it can be looked up at start-up ([`crate::dns`]),
    /// before the table is loaded: the endpoint URL's host, or `eks.{region}.amazonaws.com`
    /// (`.amazonaws.com.cn` in China) for the standard, China and GovCloud partitions'
    /// regions without FIPS or dual-stack endpoints. `None` for anything else, which is then
    /// looked up when called, as it always was; a wrong answer would cost one look-up only.
    pub fn eks_host(&self, region: &str) -> Option<String> {
        if let Some(url) = &self.endpoint_url {
            let url = reqwest::Url::parse(url).ok()?;
            return url.host_str().map(str::to_owned);
        }
        if self.use_fips == Some(true) || self.use_dual_stack == Some(true) {
            return None;
        }
        // The SDK's patterns allow any letter or '_' where a host takes lowercase only.
        if !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return None;
        }
        let suffix = match crate::arn::partition_of_region(region)? {
            "aws" | "aws-us-gov" => "amazonaws.com",
            "aws-cn" => "amazonaws.com.cn",
            _ => return None,
        };
        Some(format!("eks.{region}.{suffix}"))
    }
}

/// The credentials from the environment, or, when it holds none, an error on each EKS call
/// that names the variables: the event then ends in a FAILED response that says what to set,
/// rather than in the SDK's complaint that no credentials provider was configured.
#[derive(Debug, Clone)]
pub struct EnvironmentCredentials(Option<Credentials>);

impl ProvideCredentials for EnvironmentCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(self.0.clone().ok_or_else(|| {
            CredentialsError::not_loaded(
                "no AWS credentials in the environment: AWS_ACCESS_KEY_ID and \
                 AWS_SECRET_ACCESS_KEY must be set (Lambda sets them from the function's role)",
            )
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)]) -> Environment {
        Environment::from_vars(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        })
    }

    #[test]
    fn lambdas_variables_give_region_and_credentials() {
        let env = read(&[
            ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_DEFAULT_REGION", "us-west-2"),
        ]);
        assert_eq!(env.region.as_deref(), Some("eu-west-1"));
        let credentials = env.credentials.0.as_ref().expect("credentials");
        assert_eq!(credentials.access_key_id(), "ASIAEXAMPLE");
        assert_eq!(credentials.secret_access_key(), "secret");
        assert_eq!(credentials.session_token(), Some("token"));
        assert_eq!(env.endpoint_url, None);
        assert_eq!((env.use_fips, env.use_dual_stack), (None, None));
        assert!(env.app_name.is_none());
    }

    #[test]
    fn the_default_region_and_the_older_secret_name_are_fallbacks() {
        let env = read(&[
            ("AWS_DEFAULT_REGION", "us-west-2"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("SECRET_ACCESS_KEY", "secret"),
        ]);
        assert_eq!(env.region.as_deref(), Some("us-west-2"));
        let credentials = env.credentials.0.as_ref().expect("credentials");
        assert_eq!(credentials.secret_access_key(), "secret");
        assert_eq!(credentials.session_token(), None);
    }

    #[test]
    fn blank_or_partial_credentials_are_none() {
        for vars in [
            &[][..],
            &[("AWS_ACCESS_KEY_ID", "AKID")][..],
            &[
                ("AWS_ACCESS_KEY_ID", " "),
                ("AWS_SECRET_ACCESS_KEY", "secret"),
            ][..],
            &[("AWS_ACCESS_KEY_ID", "AKID"), ("AWS_SECRET_ACCESS_KEY", "")][..],
        ] {
            assert!(read(vars).credentials.0.as_ref().is_none(), "{vars:?}");
        }
        assert_eq!(read(&[("AWS_REGION", " ")]).region, None);
    }

    #[tokio::test]
    async fn without_credentials_each_call_is_told_which_variables_to_set() {
        let env = read(&[("AWS_REGION", "eu-west-1")]);
        let error = env
            .credentials
            .provide_credentials()
            .await
            .expect_err("no credentials");
        let text = format!("{}", aws_sdk_eks::error::DisplayErrorContext(&error));
        assert!(text.contains("AWS_ACCESS_KEY_ID"), "{text}");
    }

    #[test]
    fn the_eks_endpoint_url_wins_over_the_global_one_unless_both_are_ignored() {
        let both = [
            ("AWS_ENDPOINT_URL", "http://global"),
            ("AWS_ENDPOINT_URL_EKS", "http://eks"),
        ];
        assert_eq!(read(&both).endpoint_url.as_deref(), Some("http://eks"));
        assert_eq!(
            read(&both[..1]).endpoint_url.as_deref(),
            Some("http://global")
        );
        let ignored = [
            both[0],
            both[1],
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "TRUE"),
        ];
        assert_eq!(read(&ignored).endpoint_url, None);
        let not_ignored = [both[1], ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "false")];
        assert_eq!(
            read(&not_ignored).endpoint_url.as_deref(),
            Some("http://eks")
        );
    }

    #[test]
    fn flags_are_true_or_false_and_anything_else_is_ignored() {
        let env = read(&[
            ("AWS_USE_FIPS_ENDPOINT", "True"),
            ("AWS_USE_DUALSTACK_ENDPOINT", "false"),
        ]);
        assert_eq!(
            (env.use_fips, env.use_dual_stack),
            (Some(true), Some(false))
        );
        let env = read(&[
            ("AWS_USE_FIPS_ENDPOINT", "yes"),
            ("AWS_USE_DUALSTACK_ENDPOINT", "1"),
        ]);
        assert_eq!((env.use_fips, env.use_dual_stack), (None, None));
    }

    /// The host `eks_host` tells for each region is the one the SDK's endpoint rules give
    /// (its partition table included), and regions of other partitions get none.
    #[tokio::test]
    async fn the_eks_host_is_the_one_the_sdk_resolves() {
        use aws_sdk_eks::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
        let resolver = DefaultResolver::new();
        let env = read(&[]);
        for region in [
            "us-east-1",
            "eu-central-2",
            "ap-southeast-7",
            "mx-central-1",
            "il-central-1",
            "cn-north-1",
            "cn-northwest-1",
            "us-gov-west-1",
            "us-gov-east-1",
        ] {
            let params = Params::builder().region(region).build().expect("params");
            let endpoint = resolver
                .resolve_endpoint(&params)
                .await
                .expect("an endpoint");
            let url = reqwest::Url::parse(endpoint.url()).expect("a URL");
            assert_eq!(env.eks_host(region).as_deref(), url.host_str(), "{region}");
        }
        for region in [
            "us-iso-east-1",
            "us-isob-east-1",
            "eu-isoe-west-1",
            "us-isof-south-1",
            "eusc-de-east-1",
            "",
            "us-east-1.evil.com",
            "US-EAST-1",
            "us-east-x",
        ] {
            assert_eq!(env.eks_host(region), None, "{region}");
        }
    }

    #[test]
    fn an_endpoint_url_or_a_fips_or_dual_stack_choice_decides_the_eks_host() {
        let at = |vars: &[(&str, &str)]| read(vars).eks_host("us-east-1");
        assert_eq!(
            at(&[("AWS_ENDPOINT_URL_EKS", "https://localhost:9001")]).as_deref(),
            Some("localhost")
        );
        assert_eq!(
            at(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:9001/")]).as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(at(&[("AWS_ENDPOINT_URL_EKS", "not a url")]), None);
        assert_eq!(at(&[("AWS_USE_FIPS_ENDPOINT", "true")]), None);
        assert_eq!(at(&[("AWS_USE_DUALSTACK_ENDPOINT", "true")]), None);
        assert_eq!(
            at(&[("AWS_USE_FIPS_ENDPOINT", "false")]).as_deref(),
            Some("eks.us-east-1.amazonaws.com")
        );
    }

    #[test]
    fn an_app_id_the_sdk_rejects_is_ignored() {
        let env = read(&[("AWS_SDK_UA_APP_ID", "platform-team")]);
        assert_eq!(
            env.app_name.as_ref().map(|a| a.to_string()).as_deref(),
            Some("platform-team")
        );
        assert!(read(&[("AWS_SDK_UA_APP_ID", "platform team")])
            .app_name
            .is_none());
    }
}
