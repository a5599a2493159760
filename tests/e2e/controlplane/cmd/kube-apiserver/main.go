// Command kube-apiserver is the upstream API server, built from the official
// k8s.io/kubernetes module so the e2e tests run against the real thing.
package main

import (
	"os"
	_ "time/tzdata" // the API server parses CronJob time zones

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	command := app.NewAPIServerCommand()
	os.Exit(cli.Run(command))
}
