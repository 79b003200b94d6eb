package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/applinks/applinks/shared/store/table"
)

// regional is one region's part of a deployment to several regions.
type regional struct {
	// region is this stack's region; primary is regions[0], the table's
	// stack and the secrets' home.
	region, primary string
	regions         []string
	// strong: multi-Region strong consistency (else eventual).
	strong bool
}

// adminHost is the region's own host under the issuer's domain, where
// /admin/* is called: "us-east-2.auth.example.com".
func (r *regional) adminHost(domain string) string { return r.region + "." + domain }

// readsLocalReplicas reports whether the functions of this region read the
// key sets from a replica of their own region (every region but the
// primary; false without several regions).
func (r *regional) readsLocalReplicas() bool { return r != nil && r.region != r.primary }

// mrscRegionSets are the region sets of DynamoDB's multi-Region strong
// consistency (AWS's documentation of global tables, as of 2026): a table
// in that mode has exactly three regions (or two and a witness, which this
// app does not declare) within one set.
var mrscRegionSets = map[string][]string{
	"US": {"us-east-1", "us-east-2", "us-west-2"},
	"EU": {"eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1"},
	"AP": {"ap-northeast-1", "ap-northeast-2", "ap-northeast-3"},
}

// regionName is the shape of an AWS region name.
var regionName = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)

// certificateRegion is the region of an ACM certificate ARN.
var certificateRegion = regexp.MustCompile(`^arn:aws[a-z-]*:acm:([a-z0-9-]+):[0-9]{12}:certificate/[A-Za-z0-9-]+$`)

// NewProvider declares the provider. With at most one region in
// props.Regions it is NewProviderStack's one stack, id, unchanged (in that
// region when one is named). With several, one stack per region,
// "<id>-<region>", each with its own functions, HTTP API and alarms: the
// primary region's (the first) holds the global table, with a replica in
// every other region; every stack serves the issuer https://DomainName
// behind Route 53 latency records with health checks, and /admin/* on its
// own host, <region>.DomainName. It returns the stacks, the primary's
// first.
func NewProvider(scope constructs.Construct, id string, props ProviderStackProps) ([]*ProviderStack, error) {
	regions, err := checkRegions(props)
	if err != nil {
		return nil, err
	}
	if len(regions) <= 1 {
		if len(regions) == 1 {
			env := awscdk.Environment{Region: jsii.String(regions[0])}
			if props.Env != nil {
				env.Account = props.Env.Account
			}
			props.Env = &env
		}
		s, err := NewProviderStack(scope, id, props)
		if err != nil {
			return nil, err
		}
		return []*ProviderStack{s}, nil
	}
	certs := map[string]string{}
	for _, arn := range strings.Split(props.CertificateArn, ",") {
		if arn = strings.TrimSpace(arn); arn == "" {
			continue
		}
		m := certificateRegion.FindStringSubmatch(arn)
		if m == nil {
			return nil, fmt.Errorf("certificate ARN %q: an ACM certificate ARN arn:aws:acm:REGION:ACCOUNT:certificate/ID is needed", arn)
		}
		if certs[m[1]] != "" {
			return nil, fmt.Errorf("certificate ARNs: two for %s", m[1])
		}
		certs[m[1]] = arn
	}
	var stacks []*ProviderStack
	for _, r := range regions {
		p := props
		if certs[r] == "" {
			return nil, fmt.Errorf("certificate ARNs: none in %s; with several regions, certificateArn lists one ACM certificate per region "+
				"(ACM certificates are regional), each for %s and %s", r, props.DomainName, (&regional{region: r}).adminHost(props.DomainName))
		}
		p.CertificateArn = certs[r]
		env := awscdk.Environment{Region: jsii.String(r)}
		if props.Env != nil {
			env.Account = props.Env.Account
		}
		p.Env = &env
		p.regional = &regional{region: r, primary: regions[0], regions: regions, strong: props.Consistency != "eventual"}
		s, err := NewProviderStack(scope, id+"-"+r, p)
		if err != nil {
			return nil, err
		}
		if len(stacks) > 0 {
			// The replicas exist once the primary's stack has made the
			// global table.
			s.AddStackDependency(stacks[0].Stack, jsii.String("the global table is created in the primary region's stack"))
		}
		stacks = append(stacks, s)
	}
	return stacks, nil
}

// checkRegions returns props.Regions (trimmed, empty entries dropped) and
// refuses what a deployment to several regions cannot be: duplicates,
// names that are not regions, and with several regions a missing domain
// or hosted zone, the options that are regional (the front door, a KMS
// key, an API-less stack), and a region set that multi-Region strong
// consistency does not allow.
func checkRegions(props ProviderStackProps) ([]string, error) {
	var regions []string
	for _, r := range props.Regions {
		if r = strings.TrimSpace(r); r == "" {
			continue
		}
		if !regionName.MatchString(r) {
			return nil, fmt.Errorf("regions: %q is not a region name", r)
		}
		if slices.Contains(regions, r) {
			return nil, fmt.Errorf("regions: %s is listed twice", r)
		}
		regions = append(regions, r)
	}
	switch props.Consistency {
	case "", "strong", "eventual":
	default:
		return nil, fmt.Errorf("consistency: %q is neither strong nor eventual", props.Consistency)
	}
	if len(regions) <= 1 {
		if props.Consistency != "" || props.HostedZoneID != "" || props.HostedZoneName != "" {
			return nil, fmt.Errorf("consistency, hostedZoneId and hostedZoneName apply to several regions only (regions: %q)", regions)
		}
		return regions, nil
	}
	switch {
	case props.DomainName == "":
		return nil, fmt.Errorf("several regions need domainName: the issuer is one host (https://<domainName>) whichever region answers, " +
			"and each region's execute-api host is different")
	case props.HostedZoneID == "" || props.HostedZoneName == "":
		return nil, fmt.Errorf("several regions need hostedZoneId and hostedZoneName: the Route 53 public hosted zone of %s, "+
			"for its latency records", props.DomainName)
	case props.DomainName != strings.TrimSuffix(props.HostedZoneName, ".") &&
		!strings.HasSuffix(props.DomainName, "."+strings.TrimSuffix(props.HostedZoneName, ".")):
		return nil, fmt.Errorf("domain name %s is not in the hosted zone %s", props.DomainName, props.HostedZoneName)
	case props.FrontDomainName != "":
		return nil, fmt.Errorf("several regions: the front door (frontDomainName) is not supported: its origin is one region's domain, " +
			"and a CloudFront origin group fails over GET, HEAD and OPTIONS only (the token endpoint is POST)")
	case props.CreateKMSKey || props.KMSKeyArn != "":
		return nil, fmt.Errorf("several regions: kmsKey is not supported yet: a customer managed key is regional, so the global table's " +
			"replicas and the secrets' replicas each need a key in their region (a multi-Region key); use the AWS managed keys")
	case props.WithoutAPI:
		return nil, fmt.Errorf("several regions: withoutApi is for an emulator's single region")
	}
	if props.Consistency != "eventual" {
		if err := checkMRSC(regions); err != nil {
			return nil, err
		}
	}
	return regions, nil
}

// checkMRSC refuses a region list that multi-Region strong consistency does
// not allow: exactly three regions, all of one region set.
func checkMRSC(regions []string) error {
	sets := make([]string, 0, len(mrscRegionSets))
	for name, rs := range mrscRegionSets {
		sets = append(sets, name+": "+strings.Join(rs, ", "))
	}
	slices.Sort(sets)
	help := "multi-Region strong consistency needs exactly three regions of one region set (" + strings.Join(sets, "; ") +
		"); choose such regions, or -c consistency=eventual (docs/multi-region.md says what that costs single-use codes and reuse detection)"
	if len(regions) != 3 {
		return fmt.Errorf("regions %s: %d regions; %s", strings.Join(regions, ","), len(regions), help)
	}
	for name, set := range mrscRegionSets {
		if slices.Contains(set, regions[0]) {
			for _, r := range regions[1:] {
				if !slices.Contains(set, r) {
					return fmt.Errorf("regions %s: %s is not in the %s region set of %s; %s", strings.Join(regions, ","), r, name, regions[0], help)
				}
			}
			return nil
		}
	}
	return fmt.Errorf("regions %s: %s is in no region set; %s", strings.Join(regions, ","), regions[0], help)
}

// globalTableName is the global table's name: explicit, since every
// region's stack names the same table (a replica has its table's name).
func globalTableName(stage string) string { return "applinks-" + stage }

// regionalTable is the table of a stack of several regions: the global
// table in the primary region's stack, its replica in this region
// elsewhere (referenced by name, so that each function's policy names its
// own region's replica).
func regionalTable(stack awscdk.Stack, p ProviderStackProps) awsdynamodb.ITable {
	r := p.regional
	if r.region != r.primary {
		return awsdynamodb.TableV2_FromTableName(stack, jsii.String("Table"), jsii.String(globalTableName(p.Stage)))
	}
	str := awsdynamodb.AttributeType_STRING
	var gsis []*awsdynamodb.GlobalSecondaryIndexPropsV2
	for _, g := range table.GSIs {
		gsis = append(gsis, &awsdynamodb.GlobalSecondaryIndexPropsV2{
			IndexName:      jsii.String(g.Name),
			PartitionKey:   &awsdynamodb.Attribute{Name: jsii.String(g.PartitionKey), Type: str},
			SortKey:        &awsdynamodb.Attribute{Name: jsii.String(g.SortKey), Type: str},
			ProjectionType: awsdynamodb.ProjectionType_ALL,
		})
	}
	var replicas []*awsdynamodb.ReplicaTableProps
	for _, region := range r.regions[1:] {
		replicas = append(replicas, &awsdynamodb.ReplicaTableProps{Region: jsii.String(region)})
	}
	props := &awsdynamodb.TablePropsV2{
		TableName:              jsii.String(globalTableName(p.Stage)),
		PartitionKey:           &awsdynamodb.Attribute{Name: jsii.String(table.PartitionKey), Type: str},
		SortKey:                &awsdynamodb.Attribute{Name: jsii.String(table.SortKey), Type: str},
		Billing:                awsdynamodb.Billing_OnDemand(nil),
		GlobalSecondaryIndexes: &gsis,
		Replicas:               &replicas,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		Encryption:         awsdynamodb.TableEncryptionV2_AwsManagedKey(),
		DeletionProtection: jsii.Bool(p.RemovalPolicy != awscdk.RemovalPolicy_DESTROY),
		RemovalPolicy:      p.RemovalPolicy,
	}
	if r.strong {
		// Multi-Region strong consistency: conditional writes decided
		// against the latest version whatever the region. It has no TTL
		// (and no transactions): docs/multi-region.md.
		props.MultiRegionConsistency = awsdynamodb.MultiRegionConsistency_STRONG
	} else {
		props.TimeToLiveAttribute = jsii.String(table.TTLAttribute)
	}
	return awsdynamodb.NewTableV2(stack, jsii.String("Table"), props)
}

// withReplication adds to a what a function of a multi-region deployment
// needs besides: ReplicateSecretToRegions where it creates secrets (a
// CreateSecret with AddReplicaRegions is authorized as both), and
// RemoveRegionsFromReplication where it deletes them (a secret with
// replicas cannot be deleted).
func withReplication(a Access) Access {
	add := func(l []string) []string {
		out := slices.Clone(l)
		if slices.Contains(l, "secretsmanager:CreateSecret") {
			out = append(out, "secretsmanager:ReplicateSecretToRegions")
		}
		if slices.Contains(l, "secretsmanager:DeleteSecret") {
			out = append(out, "secretsmanager:RemoveRegionsFromReplication")
		}
		return out
	}
	a.LinkSecrets, a.SigningKeys = add(a.LinkSecrets), add(a.SigningKeys)
	a.PermissionKeys, a.IDPSecrets = add(a.PermissionKeys), add(a.IDPSecrets)
	return a
}

// healthPath is what Route 53 asks each region for: the metadata document,
// served by the token function (so the check covers API Gateway, the
// function and its configuration; not DynamoDB: see docs/multi-region.md).
const healthPath = "/.well-known/openid-configuration"

// newRegionalRecords declares this region's Route 53 records: a health
// check of its admin host, the issuer's latency alias record for this
// region (answered only while the check passes), and the admin host's
// alias record.
func newRegionalRecords(stack awscdk.Stack, p ProviderStackProps, domain, adminDomain awsapigatewayv2.DomainName) {
	r := p.regional
	zone := jsii.String(p.HostedZoneID)
	health := awsroute53.NewCfnHealthCheck(stack, jsii.String("HealthCheck"), &awsroute53.CfnHealthCheckProps{
		HealthCheckConfig: &awsroute53.CfnHealthCheck_HealthCheckConfigProperty{
			Type:                     jsii.String("HTTPS"),
			FullyQualifiedDomainName: jsii.String(r.adminHost(p.DomainName)),
			Port:                     jsii.Number(443),
			ResourcePath:             jsii.String(healthPath),
			EnableSni:                jsii.Bool(true),
			RequestInterval:          jsii.Number(30),
			FailureThreshold:         jsii.Number(3),
		},
		HealthCheckTags: &[]*awsroute53.CfnHealthCheck_HealthCheckTagProperty{
			{Key: jsii.String("Name"), Value: jsii.String("applinks-" + p.Stage + " " + r.region)},
		},
	})
	awsroute53.NewCfnRecordSet(stack, jsii.String("IssuerRecord"), &awsroute53.CfnRecordSetProps{
		HostedZoneId:  zone,
		Name:          jsii.String(p.DomainName + "."),
		Type:          jsii.String("A"),
		SetIdentifier: jsii.String(r.region),
		Region:        jsii.String(r.region),
		HealthCheckId: health.AttrHealthCheckId(),
		AliasTarget: &awsroute53.CfnRecordSet_AliasTargetProperty{
			DnsName:              domain.RegionalDomainName(),
			HostedZoneId:         domain.RegionalHostedZoneId(),
			EvaluateTargetHealth: jsii.Bool(true),
		},
	})
	awsroute53.NewCfnRecordSet(stack, jsii.String("AdminRecord"), &awsroute53.CfnRecordSetProps{
		HostedZoneId: zone,
		Name:         jsii.String(r.adminHost(p.DomainName) + "."),
		Type:         jsii.String("A"),
		AliasTarget: &awsroute53.CfnRecordSet_AliasTargetProperty{
			DnsName:              adminDomain.RegionalDomainName(),
			HostedZoneId:         adminDomain.RegionalHostedZoneId(),
			EvaluateTargetHealth: jsii.Bool(false),
		},
	})
	awscdk.NewCfnOutput(stack, jsii.String("HealthCheckId"), &awscdk.CfnOutputProps{
		Value:       health.AttrHealthCheckId(),
		Description: jsii.String("The Route 53 health check of this region (the issuer's record for it is answered only while it passes)"),
	})
}
