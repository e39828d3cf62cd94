module github.com/evolve-dag/evolve

go 1.26.0

require (
	github.com/emicklei/dot v1.6.2
	go.uber.org/goleak v1.3.0
	golang.org/x/sync v0.25.0
	gonum.org/v1/gonum v0.17.0
)
