// A stack that uses Custom::EksPodIdentityAssociation two ways: as a plain CustomResource
// whose service token is the function, and behind the CDK provider framework, with the
// function deployed in provider mode (it returns the result; the framework answers
// CloudFormation).
import { CfnOutput, CustomResource, Duration, RemovalPolicy, Stack, StackProps } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import * as cr from "aws-cdk-lib/custom-resources";
import { Construct } from "constructs";

export interface PodIdentityStackProps extends StackProps {
  /** The directory holding the arm64 `bootstrap` built by `make build`. */
  readonly bootstrapDir: string;
  /** The EKS cluster to associate service accounts in. */
  readonly clusterName: string;
}

/**
 * CDK makes every function depend on its role and on the role's policy; the role dependency
 * is already implied by the function's `Role: !GetAtt`, and cfn-lint (W3005) says so. Keep
 * only the policy dependency, which matters: the custom resource must not run before the
 * function may call EKS.
 */
function dependOnPolicyOnly(fn: lambda.Function): void {
  const policy = fn.role?.node.tryFindChild("DefaultPolicy")?.node.defaultChild;
  if (policy instanceof iam.CfnPolicy) {
    (fn.node.defaultChild as lambda.CfnFunction).addOverride("DependsOn", [Stack.of(fn).getLogicalId(policy)]);
  }
}

/** The functions' logs: kept for a month, and deleted with the stack (CDK's default keeps them). */
const logRetention: logs.LogGroupProps = {
  retention: logs.RetentionDays.ONE_MONTH,
  removalPolicy: RemovalPolicy.DESTROY,
};

export class PodIdentityStack extends Stack {
  constructor(scope: Construct, id: string, props: PodIdentityStackProps) {
    super(scope, id, props);

    const podRole = new iam.Role(this, "PodRole", {
      assumedBy: new iam.ServicePrincipal("pods.eks.amazonaws.com"),
    });
    podRole.assumeRolePolicy?.addStatements(new iam.PolicyStatement({
      actions: ["sts:TagSession"],
      principals: [new iam.ServicePrincipal("pods.eks.amazonaws.com")],
    }));

    // Direct: the function is the service token and PUTs the response itself.
    const direct = this.providerFunction("Direct", props, podRole, "auto");
    const api = new CustomResource(this, "ApiPodIdentity", {
      serviceToken: direct.functionArn,
      resourceType: "Custom::EksPodIdentityAssociation",
      properties: {
        ClusterName: props.clusterName,
        Namespace: "payments",
        ServiceAccount: "api",
        RoleArn: podRole.roleArn,
        DisableSessionTags: true,
        Tags: [{ Key: "team", Value: "payments" }],
      },
    });

    // Behind the provider framework: the framework's function is the service token.
    const onEvent = this.providerFunction("Framework", props, podRole, "provider");
    const provider = new cr.Provider(this, "Provider", {
      onEventHandler: onEvent,
      logGroup: new logs.LogGroup(this, "ProviderLogs", logRetention),
      // The framework PUTs the answer in this mode, so a failed PUT is in its log, not the
      // function's; CDK's default level (FATAL) would leave that log empty. It logs the
      // ResponseURL without its query string.
      frameworkLambdaLoggingLevel: lambda.ApplicationLogLevel.INFO,
    });
    const worker = new CustomResource(this, "WorkerPodIdentity", {
      serviceToken: provider.serviceToken,
      resourceType: "Custom::EksPodIdentityAssociation",
      properties: {
        ClusterName: props.clusterName,
        Namespace: "payments",
        ServiceAccount: "worker",
        RoleArn: podRole.roleArn,
      },
    });

    for (const fn of this.node.findAll().filter((c): c is lambda.Function => c instanceof lambda.Function)) {
      dependOnPolicyOnly(fn);
    }

    new CfnOutput(this, "ApiAssociationArn", { value: api.getAttString("AssociationArn") });
    new CfnOutput(this, "WorkerAssociationId", { value: worker.getAttString("AssociationId") });
    new CfnOutput(this, "WorkerExternalId", { value: worker.getAttString("ExternalId") });
  }

  /** The cfn-eks-pod-identity function, with the least privilege it needs for one cluster. */
  private providerFunction(id: string, props: PodIdentityStackProps, podRole: iam.IRole, mode: string): lambda.Function {
    const fn = new lambda.Function(this, `${id}Function`, {
      runtime: lambda.Runtime.PROVIDED_AL2023,
      architecture: lambda.Architecture.ARM_64,
      handler: "bootstrap",
      code: lambda.Code.fromAsset(props.bootstrapDir),
      memorySize: 128,
      // Covers IAM propagation retries (up to 120 s) and the response PUT; see template.yaml.
      timeout: Duration.seconds(300),
      environment: { CFN_RESPONSE_MODE: mode },
      loggingFormat: lambda.LoggingFormat.JSON,
      logGroup: new logs.LogGroup(this, `${id}Logs`, logRetention),
    });
    const cluster = this.formatArn({ service: "eks", resource: "cluster", resourceName: props.clusterName });
    const associations = this.formatArn({
      service: "eks",
      resource: "podidentityassociation",
      resourceName: `${props.clusterName}/*`,
    });
    fn.addToRolePolicy(new iam.PolicyStatement({
      actions: ["eks:CreatePodIdentityAssociation", "eks:ListPodIdentityAssociations"],
      resources: [cluster],
    }));
    fn.addToRolePolicy(new iam.PolicyStatement({
      actions: [
        "eks:DescribePodIdentityAssociation",
        "eks:UpdatePodIdentityAssociation",
        "eks:DeletePodIdentityAssociation",
        "eks:TagResource",
        "eks:UntagResource",
      ],
      resources: [associations],
    }));
    fn.addToRolePolicy(new iam.PolicyStatement({
      actions: ["iam:PassRole"],
      resources: [podRole.roleArn],
      conditions: { StringEquals: { "iam:PassedToService": "pods.eks.amazonaws.com" } },
    }));
    return fn;
  }
}
