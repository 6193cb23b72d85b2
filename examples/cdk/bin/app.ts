// The CDK app: one stack that deploys the function and uses it, twice.
import * as path from "path";
import { App } from "aws-cdk-lib";
import { PodIdentityStack } from "../lib/pod-identity-stack";

const app = new App();
new PodIdentityStack(app, "PodIdentityExample", {
  // `make build` puts the arm64 bootstrap here (cargo lambda build --release --arm64).
  bootstrapDir: app.node.tryGetContext("bootstrapDir")
    ?? path.join(__dirname, "..", "..", "..", "..", "target", "lambda", "cfn-eks-pod-identity"),
  clusterName: app.node.tryGetContext("clusterName") ?? "prod",
});
