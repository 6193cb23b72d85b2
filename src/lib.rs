//! cfn-eks-pod-identity: a CloudFormation custom resource, run as an AWS Lambda function, that
//! creates, updates and deletes EKS Pod Identity Associations.
//!
//! The modules follow the path of an event:
//! - [`event`] reads the request, leniently;
//! - [`properties`] validates the template's properties (the schema);
//! - [`plan`] decides what must change, in pure functions;
//! - [`resource`] runs Create, Update and Delete, calling [`eks`] (outbound EKS calls,
//!   configured by [`config`] from Lambda's environment), and records in [`progress`] what
//!   its Creates have done;
//! - [`response`] builds the CloudFormation response, [`delivery`] PUTs it;
//! - [`http`] is the one HTTP client, shared by the EKS calls and the PUT, with [`dns`]
//!   looking its hosts up ahead of the requests;
//! - [`arn`] reads the ARNs involved (associations, roles, the function's own), and
//!   [`backoff`] paces every retry loop of the function's own;
//! - [`handler`] ties them together and guarantees one answer per event, in the time
//!   [`deadline`] gives it, changing nothing for an event that came after CloudFormation
//!   stopped waiting for it ([`late`]);
//! - [`logging`] sets up Lambda's log format without leaking the ResponseURL.

pub mod arn;
pub mod backoff;
pub mod config;
pub mod deadline;
pub mod delivery;
pub mod dns;
pub mod eks;
pub mod event;
pub mod handler;
pub mod http;
pub mod late;
pub mod logging;
pub mod plan;
pub mod progress;
pub mod properties;
pub mod resource;
pub mod response;
