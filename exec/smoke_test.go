package exec_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
	"github.com/evolve-dag/evolve/dynamic"
)

func TestSmoke(t *testing.T) {
	g := graph.New()
	a := graph.Value(g, 20)
	b := graph.Go1(g, "double", a, func(ctx context.Context, x int) (int, error) { return 2 * x, nil })
	c := graph.Go2(g, "sum", a, b, func(ctx context.Context, x, y int) (int, error) { return x + y, nil })
	bad := graph.Go(g, "bad", func(ctx context.Context) (int, error) { return 0, errors.New("boom") })
	d := graph.Go1(g, "after-bad", bad, func(ctx context.Context, x int) (int, error) { return x, nil })
	p := graph.Go(g, "panic", func(ctx context.Context) (int, error) { panic("oops") })
	err := exec.Run(context.Background(), g, exec.Workers(2))
	fmt.Println("err:", err)
	fmt.Println(b.Result())
	fmt.Println(c.Result())
	fmt.Println(d.Result())
	_, perr := p.Result()
	var pe *graph.PanicError
	fmt.Println(errors.As(perr, &pe))
}

func fib(ctx context.Context, s graph.Builder, n int) (int, error) {
	if n < 2 {
		return n, nil
	}
	x := graph.Go(s, "fib", func(ctx context.Context) (int, error) { return fib(ctx, dynamic.Scope(ctx), n-1) })
	y := graph.Go(s, "fib", func(ctx context.Context) (int, error) { return fib(ctx, dynamic.Scope(ctx), n-2) })
	if err := graph.Await(ctx, x, y); err != nil {
		return 0, err
	}
	a, err1 := x.Result()
	b, err2 := y.Result()
	return a + b, errors.Join(err1, err2)
}

func TestFibSmoke(t *testing.T) {
	for _, w := range []int{1, 2} {
		g := graph.New()
		f := graph.Go(g, "fib", func(ctx context.Context) (int, error) { return fib(ctx, dynamic.Scope(ctx), 20) })
		err := exec.Run(context.Background(), g, exec.Workers(w))
		v, err2 := f.Result()
		fmt.Println(w, err, v, err2, g.Len())
	}
}
