// Module pause is the sandbox ("pause") program of the real-node test host's
// pods, built static into an image: nothing can be pulled here.
module github.com/vclusterkit/vclusterkit/internal/tools/pause

go 1.26.0
