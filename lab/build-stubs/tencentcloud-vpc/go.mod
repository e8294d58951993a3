// Stand-in for the Tencent Cloud VPC SDK, which this machine's Go module proxy refuses to serve (403 "not
// available"). flanneld links every backend into one binary, so its tencent-vpc backend needs this package to
// compile; the lab never selects that backend. Every call fails loudly instead of pretending to work.
module github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc

go 1.22
