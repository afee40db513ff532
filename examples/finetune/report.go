package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"time"

	"github.com/gorpo/gorpo/internal/safetensors"
	"github.com/gorpo/gorpo/rpo"
)

// report is report.json: one entry for the base model ("base") and one for each run, keyed by
// its objective ("rpo", "sim", ...), as the toy world's report keys its runs; then the settings.
// A single run has one run; --compare one per objective, in the order they trained.
type report struct {
	Base       *scores
	Runs       []objectiveRun
	Compare    bool
	Config     rpo.Config // of the first run (--compare: the objectives' runs differ only in the objective)
	Generation rpo.Generation
	Evaluation *evaluation
	Inputs     inputs
	Seconds    float64
}

// objectiveRun is a run's entry under its objective's name.
type objectiveRun struct {
	Objective rpo.Objective
	Run       runReport
	result    *rpo.Result
}

// runReport is the run's entry: what training did and how its after.png images score.
type runReport struct {
	StepsTrained int               `json:"steps_trained"`
	BestStep     int               `json:"best_step"`           // 0: no validation
	BestReward   *float64          `json:"best_reward"`         // null: no validation
	StopReason   string            `json:"stop_reason"`         // steps, patience or hook
	Seconds      float64           `json:"seconds"`             // of training (this call)
	Weights      string            `json:"weights"`             // the kept weights' file or folder
	BestDir      string            `json:"best_dir,omitempty"`  // the best validation's checkpoint
	FinalDir     string            `json:"final_dir,omitempty"` // the last weights' checkpoint
	Validations  []validationPoint `json:"validations"`         // every validation reward
	Resumed      bool              `json:"resumed"`             // continued with --resume
	Graphs       rpo.GraphCounts   `json:"graphs"`              // compiled by the trainer, by phase
	Dir          string            `json:"dir,omitempty"`       // --compare: the run's folder
	*scores                        // of after.png's images
}

type validationPoint struct {
	Step   int     `json:"step"`
	Reward float64 `json:"reward"`
}

// inputs are the folders the run read.
type inputs struct {
	Subject string   `json:"subject,omitempty"` // the toy world's built-in subject
	Model   string   `json:"model"`
	Reward  string   `json:"reward,omitempty"`
	Photos  []string `json:"photos"`
}

// newReport starts the report of the runs in s.out: the base model's scores and the settings.
func newReport(o options, s settings, photos []string, ev *evaluation, base *scores) *report {
	return &report{Base: base, Compare: o.Compare, Config: s.cfg, Generation: s.gen, Evaluation: ev,
		Inputs: inputs{Model: o.Model, Reward: o.Reward, Photos: photos}}
}

// add adds the entry of a run of settings s: what training did and the scores of its weights.
func (r *report) add(o options, s settings, res *rpo.Result, tuned *scores) {
	run := runReport{StepsTrained: res.StepsTrained, BestStep: res.BestStep, StopReason: res.StopReason,
		Seconds: res.Seconds, Weights: weightsPath(res, s.cfg), BestDir: res.BestDir, FinalDir: res.FinalDir,
		Validations: []validationPoint{}, Resumed: o.Resume, Graphs: res.Graphs, scores: tuned}
	if o.Compare {
		run.Dir = s.out
	}
	if !math.IsNaN(res.BestReward) {
		run.BestReward = &res.BestReward
	}
	for _, p := range res.Rewards {
		if !math.IsNaN(p.Reward) && !math.IsInf(p.Reward, 0) {
			run.Validations = append(run.Validations, validationPoint{p.Step, p.Reward})
		}
	}
	if len(r.Runs) == 0 {
		r.Config = s.cfg
	}
	r.Runs = append(r.Runs, objectiveRun{Objective: s.cfg.Objective, Run: run, result: res})
}

// MarshalJSON writes each run under its objective's name.
func (r *report) MarshalJSON() ([]byte, error) {
	m := map[string]any{
		"config":     r.Config,
		"generation": r.Generation,
		"evaluation": r.Evaluation,
		"inputs":     r.Inputs,
		"seconds":    r.Seconds,
	}
	var names []string
	for _, run := range r.Runs {
		m[string(run.Objective)] = run.Run
		names = append(names, string(run.Objective))
	}
	if r.Compare {
		m["compare"] = names // the objectives, in the order they trained
	}
	if r.Base != nil {
		m["base"] = baseEntry{scores: r.Base}
	}
	return json.Marshal(m)
}

// baseEntry is the base model's entry: its scores, in the same shape as a run's (it trained for
// no steps, in no time).
type baseEntry struct {
	StepsTrained int     `json:"steps_trained"`
	BestStep     int     `json:"best_step"`
	Seconds      float64 `json:"seconds"`
	*scores
}

// markdown is report.md: the base model and each run, a row each, as a table.
func (r *report) markdown() string {
	var b strings.Builder
	title := "finetune"
	if r.Inputs.Subject != "" {
		title += ": " + r.Inputs.Subject
	}
	if r.Compare {
		title += ": the objectives compared"
	}
	fmt.Fprintf(&b, "# %s\n\n", title)
	fmt.Fprintf(&b, "Means over %d evaluation prompts × %d images: ALIGN-I, ALIGN-T and the %g-Harmonic reward by the reward model",
		len(r.Evaluation.Prompts), r.Evaluation.ImagesPerPrompt, evalLambda)
	if r.Base == nil {
		b.WriteString(" (none given: not scored)")
	}
	if r.Base != nil && r.Base.SubjectFidelity != nil {
		b.WriteString("; subject and prompt fidelity, shares graded by the toy world's judge")
	}
	b.WriteString(". Steps and seconds are of training.")
	if r.Compare {
		b.WriteString(" Every objective trained from the base model on the same inputs and seed, in its own folder;" +
			" their images are after-<objective>.png, the base model's before.png.")
	}
	b.WriteString("\n\n")
	b.WriteString("| model | subject_fidelity | prompt_fidelity | align_i | align_t | harmonic_0_3 | steps_trained | best_step | seconds |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	row := func(name string, sc *scores, steps, best int, seconds float64) {
		num := func(p *float64) string {
			if p == nil {
				return "–"
			}
			return fmt.Sprintf("%.3f", *p)
		}
		var si, pf, ai, at, h string = "–", "–", "–", "–", "–"
		if sc != nil {
			si, pf = num(sc.SubjectFidelity), num(sc.PromptFidelity)
			ai, at, h = num(&sc.AlignI), num(&sc.AlignT), num(&sc.Harmony)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %d | %d | %.1f |\n", name, si, pf, ai, at, h, steps, best, seconds)
	}
	row("base", r.Base, 0, 0, 0)
	for _, run := range r.Runs {
		row(string(run.Objective), run.Run.scores, run.Run.StepsTrained, run.Run.BestStep, run.Run.Seconds)
	}
	return b.String()
}

// writeMarkdown writes report.md atomically.
func (r *report) writeMarkdown(path string) error {
	return safetensors.WriteAtomic(path, func(w io.Writer) error {
		_, err := io.WriteString(w, r.markdown())
		return err
	})
}

// write writes the report atomically.
func (r *report) write(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return safetensors.WriteAtomic(path, func(w io.Writer) error {
		_, err := w.Write(append(data, '\n'))
		return err
	})
}

// weightsPath is the file or folder of the kept weights: the U-Net folder of a full fine-tune,
// the adapter file of LoRA.
func weightsPath(res *rpo.Result, cfg rpo.Config) string {
	if cfg.LoRARank > 0 {
		return filepath.Join(res.WeightsDir, rpo.CheckpointLoRAFile)
	}
	return filepath.Join(res.WeightsDir, rpo.CheckpointUNetDir)
}

// printSummary is the run's last lines.
func printSummary(w io.Writer, s settings, res *rpo.Result, ev *evaluation, base, tuned *scores, total time.Duration) {
	fmt.Fprintf(w, "finetune: done in %s: %d steps trained (objective %s, stopped: %s)\n",
		total.Round(time.Second), res.StepsTrained, res.Objective, res.StopReason)
	if math.IsNaN(res.BestReward) {
		fmt.Fprintln(w, "  best validation: none (no validation ran)")
	} else {
		fmt.Fprintf(w, "  best validation: step %d, reward %.4f (λ_val %g)\n", res.BestStep, res.BestReward, s.cfg.LambdaVal)
	}
	kind := "a diffusers U-Net folder: use it as the model's unet/"
	if s.cfg.LoRARank > 0 {
		kind = "LoRA adapters in diffusers' naming, for load_lora_weights"
	}
	which := "best"
	if !s.cfg.Objective.EarlyStopping() || res.WeightsDir != res.BestDir {
		which = "last"
	}
	fmt.Fprintf(w, "  %s weights: %s (%s)\n", which, weightsPath(res, s.cfg), kind)
	fmt.Fprintf(w, "  graphs compiled by the trainer: %s; U-Net compute %s\n", res.Graphs, precisionName(s.cfg.Precision))
	if base != nil && tuned != nil {
		fmt.Fprintf(w, "  %d evaluation prompts × %d images, ALIGN-I / ALIGN-T / %g-Harmonic: base %.3f / %.3f / %.3f, fine-tuned %.3f / %.3f / %.3f\n",
			len(ev.Prompts), ev.ImagesPerPrompt, evalLambda, base.AlignI, base.AlignT, base.Harmony, tuned.AlignI, tuned.AlignT, tuned.Harmony)
		if base.SubjectFidelity != nil && tuned.SubjectFidelity != nil {
			fmt.Fprintf(w, "  judge, subject / prompt fidelity: base %.3f / %.3f, fine-tuned %.3f / %.3f\n",
				*base.SubjectFidelity, *base.PromptFidelity, *tuned.SubjectFidelity, *tuned.PromptFidelity)
		}
	}
	files := []string{beforeFile, afterFile, reportFile, reportMD}
	for _, name := range []string{"reward_curve.png", rpo.MetricsFile} {
		if exists(filepath.Join(s.out, name)) {
			files = append(files, name)
		}
	}
	fmt.Fprintf(w, "  in %s: %s\n", s.out, strings.Join(files, ", "))
}

// printCompare is the last lines of --compare: each objective's run and where its files are.
func printCompare(w io.Writer, s settings, r *report, total time.Duration) {
	fmt.Fprintf(w, "finetune: compared %d objectives in %s\n", len(r.Runs), total.Round(time.Second))
	for _, run := range r.Runs {
		res := run.result
		fmt.Fprintf(w, "  %s: %d steps trained (stopped: %s), %d graphs compiled, weights %s", run.Objective, res.StepsTrained, res.StopReason,
			res.Graphs.Total(), run.Run.Weights)
		if sc := run.Run.scores; sc != nil {
			fmt.Fprintf(w, "; ALIGN-I / ALIGN-T / %g-Harmonic %.3f / %.3f / %.3f", evalLambda, sc.AlignI, sc.AlignT, sc.Harmony)
			if sc.SubjectFidelity != nil {
				fmt.Fprintf(w, ", judge subject / prompt fidelity %.3f / %.3f", *sc.SubjectFidelity, *sc.PromptFidelity)
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  in %s: %s, %s, %s, after-<objective>.png, and a folder per objective\n", s.out, beforeFile, reportFile, reportMD)
}
