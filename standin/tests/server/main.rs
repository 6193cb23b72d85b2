//! The stand-in driven over real HTTP connections, the way the Lambda
//! binary, the AWS SDK and the AWS CLI reach it.

mod bucket;
mod client;
mod eks;
mod faults;
mod runtime;
mod tls;
