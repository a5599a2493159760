// Command etcd is etcd 3.6 built from its server module: Debian's etcd 3.4 is
// older than what Kubernetes 1.36 supports.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
