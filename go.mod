module github.com/kernelsim/lfsim

go 1.26

require (
	github.com/Workiva/go-datastructures v1.1.7
	github.com/anishathalye/porcupine v1.3.1
	github.com/puzpuzpuz/xsync/v4 v4.5.0
	github.com/stretchr/testify v1.12.1
	go.uber.org/goleak v1.3.0
	pgregory.net/rapid v1.3.0
)

require go.yaml.in/yaml/v3 v3.0.5 // indirect
