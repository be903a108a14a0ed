package console

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"paybridge/internal/routes"
)

// queueTimeout bounds a call to the queue's Redis.
const queueTimeout = 10 * time.Second

// deadJobsFor lists the dead jobs the user may see, each with its payment
// and shop. A task naming neither (the reconciler's) is an operator's
// only.
func (c *Console) deadJobsFor(g *gin.Context) ([]deadJob, error) {
	u := currentUser(g)
	ctx, cancel := context.WithTimeout(g.Request.Context(), queueTimeout)
	defer cancel()
	tasks, err := c.jobs.Archived(ctx)
	if err != nil {
		return nil, err
	}
	names, _, err := c.shopNames(g)
	if err != nil {
		return nil, err
	}
	shopOf := map[string]string{} // payment id → shop id
	var out []deadJob
	for _, t := range tasks {
		j := deadJob{ArchivedTask: t}
		if j.PaymentID == "" && j.RefundID != "" {
			if r, err := c.cfg.Store.Refund(g.Request.Context(), j.RefundID); err == nil {
				j.PaymentID = r.PaymentID
			}
		}
		if j.PaymentID != "" {
			shop, ok := shopOf[j.PaymentID]
			if !ok {
				if p, err := c.cfg.Store.Payment(g.Request.Context(), j.PaymentID); err == nil {
					shop = p.ShopID
				}
				shopOf[j.PaymentID] = shop
			}
			j.ShopID, j.ShopName = shop, names[shop]
		}
		if u.Operator() || (j.ShopID != "" && j.ShopID == u.ShopID) {
			out = append(out, j)
		}
	}
	return out, nil
}

// jobsData is the dead jobs page's.
type jobsData struct {
	Jobs        []deadJob
	Unavailable bool
}

func (c *Console) deadJobs(g *gin.Context) {
	js, err := c.deadJobsFor(g)
	d := jobsData{Jobs: js}
	if err != nil {
		c.log.WarnContext(g.Request.Context(), "console: list dead jobs", "err", err)
		d.Unavailable = true
	}
	c.render(g, http.StatusOK, "jobs.html", c.newPage(g, tr(lang(g), "jobs_title"), "jobs", d))
}

// visibleJob finds the :queue/:task dead job if the user may see it, and
// answers otherwise: 404 for another shop's (as for one that does not
// exist), a notice when it is gone already.
func (c *Console) visibleJob(g *gin.Context) (deadJob, bool) {
	js, err := c.deadJobsFor(g)
	if err != nil {
		c.renderError(g, http.StatusServiceUnavailable, "jobs_unavailable", err)
		return deadJob{}, false
	}
	for _, j := range js {
		if j.Queue == g.Param("queue") && j.ID == g.Param("task") {
			return j, true
		}
	}
	c.renderError(g, http.StatusNotFound, "err_not_found", nil)
	return deadJob{}, false
}

func (c *Console) replayJob(g *gin.Context) {
	c.jobAction(g, "replay_job", "n_replayed", c.jobs.Replay)
}

func (c *Console) discardJob(g *gin.Context) {
	c.jobAction(g, "discard_job", "n_discarded", c.jobs.Discard)
}

func (c *Console) jobAction(g *gin.Context, what, notice string, do func(ctx context.Context, queue, id string) error) {
	j, ok := c.visibleJob(g)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(g.Request.Context()), queueTimeout)
	defer cancel()
	err := do(ctx, j.Queue, j.ID)
	if j.PaymentID != "" {
		c.action(g, j.PaymentID, j.RefundID, what, map[string]any{"queue": j.Queue, "task": j.ID, "type": j.Type,
			"last_error": redactString(j.LastError)}, err)
	} else {
		c.log.InfoContext(ctx, "console action", "action", what, "task", j.ID, "queue", j.Queue, "user", currentUser(g).Email, "err", err)
	}
	back := routes.ConsoleJobs
	if g.PostForm("back") == "payment" && j.PaymentID != "" {
		back = routes.ConsolePaymentPath(j.PaymentID)
	}
	if err != nil {
		c.log.WarnContext(ctx, "console: "+what, "task", j.ID, "err", err)
		redirect(g, back, "e_job")
		return
	}
	redirect(g, back, notice)
}
