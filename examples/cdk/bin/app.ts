// The CDK app: one stack that deploys the function and uses it, twice.
import * as path from "path";
import { App } from "aws-cdk-lib";
import { PodIdentityStack } from "../lib/pod-identity-stack";

const app = new App();
// No default: a deploy must not make associations in whichever cluster a default names.
const clusterName = app.node.tryGetContext("clusterName");
if (typeof clusterName !== "string" || clusterName === "") {
  throw new Error(
    "Name the EKS cluster: -c clusterName=<cluster name> on every cdk command " +
      "(npm run synth -- -c clusterName=<cluster name>)",
  );
}
new PodIdentityStack(app, "PodIdentityExample", {
  // `make build` puts the arm64 bootstrap here (cargo lambda build --release --arm64).
  bootstrapDir: app.node.tryGetContext("bootstrapDir")
    ?? path.join(__dirname, "..", "..", "..", "..", "target", "lambda", "cfn-eks-pod-identity"),
  clusterName,
});
