package main

import (
	"context"
	"errors"
	"io"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// defaultChunkSize is --chunk-size's default, kubectl's: at 150,000 pods a
// list in one answer is about 150 MB of JSON, which the reconciler encodes
// and ctl decodes whole before printing a line; pages of 500 are about
// 500 KB each, and the table starts printing after the first.
const defaultChunkSize = 500

// streamsPods reports whether get prints pods page by page: a pod table
// (or -o wide) of every pod that matches. Sorting needs every row first,
// named pods are printed in the order named, and structured output is one
// List: those read every page, then print.
func streamsPods(kinds, names []string, f outputFormat, o getOptions) bool {
	return len(kinds) == 1 && kinds[0] == resPods && len(names) == 0 && o.sortBy == "" && o.chunkSize > 0 &&
		(f.kind == outTable || f.kind == outWide)
}

// printPodPages prints the pod table as the pages arrive. A list that
// fits one page is printed as it always was (columns as wide as their
// widest cell). Over several, the columns are as wide as the first page
// needs, as kubectl's are: a wider cell of a later page widens its column
// from that row on, so a row may stand out of line, the price of printing
// before the last page is read. The header is printed once; a page whose
// pods the client-side filters drop prints nothing.
func (c *cli) printPodPages(ctx context.Context, fe *fetcher, o getOptions, f outputFormat) error {
	topts := tableOpts{withNS: o.all, wide: f.kind == outWide}
	var widths []int
	pf := fe.podFilter
	pf.Namespace = fe.ns
	first := true
	err := fe.cl.EachPodsPage(ctx, pf, fe.chunkSize, func(l *api.PodList) error {
		items := make([]*item, len(l.Pods))
		for i, p := range l.Pods {
			items[i] = podItem(p, nil)
		}
		items, err := filterItems(items, o.selector, o.fieldSelector)
		if err != nil {
			return err
		}
		if first && l.Continue == "" {
			printTable(c.out, spec.KindPod, items, topts)
			return nil
		}
		first = false
		if len(items) == 0 {
			return nil
		}
		header, rows := tableRows(spec.KindPod, items, topts)
		if widths == nil {
			widths = columnWidths(header, rows)
			io.WriteString(c.out, formatRow(widths, header))
		}
		for _, r := range rows {
			io.WriteString(c.out, formatRow(widths, r))
		}
		return nil
	})
	var ee *exitErr
	if err != nil && !errors.As(err, &ee) {
		return &exitErr{code: exitError, err: err}
	}
	if err != nil {
		return err
	}
	if !first && widths == nil {
		printTable(c.out, spec.KindPod, nil, topts)
	}
	return nil
}
