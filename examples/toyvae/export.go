package main

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/toyworld"
	"github.com/gorpo/gorpo/internal/toyworld/autoencoder"
	"github.com/gorpo/gorpo/internal/toyworld/judge"
)

// scaleImages is how many held-out renders measure the scaling factor.
const scaleImages = 1000

// export measures the scaling factor, writes out/vae (atomically) with it, evaluates the round
// trip on evalN held-out renders and writes TRAINING.md and roundtrip.png.
func export(ctx context.Context, out string, vae *diffusion.AutoencoderKL, st autoencoder.State, evalN int) error {
	t0 := time.Now()
	scale, err := autoencoder.MeasureScale(ctx, vae, scaleImages)
	if err != nil {
		return err
	}
	fmt.Printf("scaling_factor %.5f (1/std of posterior samples of %d held-out renders)\n", scale, scaleImages)
	if err := saveVAE(filepath.Join(out, "vae"), vae, scale); err != nil {
		return err
	}
	var rep *autoencoder.Report
	if evalN > 0 {
		j, err := judge.Load()
		if err != nil {
			return err
		}
		defer j.Finalize()
		scenes, err := autoencoder.EvalScenes(evalN)
		if err != nil {
			return err
		}
		if rep, err = autoencoder.RoundTrip(ctx, vae, j, scenes); err != nil {
			return err
		}
		fmt.Printf("round trip of %d held-out renders (%d of subjects): PSNR generic %.2f dB, subjects %.2f dB, subjects' boxes %.2f dB; judge agreement context %.4f, class %.4f, colour %.4f; subject kept in %.4f of %d\n",
			rep.N, rep.Subjects, rep.PSNRGeneric, rep.PSNRSubjects, rep.PSNRSubjectBox, rep.Agreement["context"], rep.Agreement["class"], rep.Agreement["colour"], rep.SubjectKept, rep.SubjectSeen)
		if err := toyworld.WritePNG(filepath.Join(out, "roundtrip.png"), sheet(rep)); err != nil {
			return err
		}
	}
	md := trainingMD(vae, st, scale, rep, time.Since(t0))
	return os.WriteFile(filepath.Join(out, "TRAINING.md"), []byte(md), 0o644)
}

// saveVAE writes the VAE folder with scaling_factor set, built beside dir and renamed in.
func saveVAE(dir string, vae *diffusion.AutoencoderKL, scale float64) error {
	tmp := dir + ".tmp"
	_ = os.RemoveAll(tmp)
	defer os.RemoveAll(tmp)
	if err := vae.Save(tmp); err != nil {
		return err
	}
	cfgPath := filepath.Join(tmp, "config.json")
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		return err
	}
	var cfg map[string]any
	if err := json.Unmarshal(data, &cfg); err != nil {
		return err
	}
	cfg["scaling_factor"] = scale
	if data, err = json.MarshalIndent(cfg, "", "  "); err != nil {
		return err
	}
	if err := os.WriteFile(cfgPath, append(data, '\n'), 0o644); err != nil {
		return err
	}
	_ = os.RemoveAll(dir)
	return os.Rename(tmp, dir)
}

// sheet is roundtrip.png: rows of 12 held-out renders (the first generic scenes, then the
// first two of each subject), each row above its round trip, scaled 4×.
func sheet(r *autoencoder.Report) image.Image {
	var idx []int
	// The scenes are the subjects' first (EvalScenes' order), then the generic ones.
	per := r.Subjects / len(toyworld.Subjects())
	for s := range toyworld.Subjects() {
		for k := range 2 {
			idx = append(idx, s*per+k)
		}
	}
	for i := r.Subjects; i < r.N && len(idx) < 24; i++ {
		idx = append(idx, i)
	}
	var rows [][]image.Image
	for start := 0; start < len(idx); start += 12 {
		var a, b []image.Image
		for _, i := range idx[start:min(start+12, len(idx))] {
			a = append(a, r.Originals[i])
			b = append(b, r.RoundTrips[i])
		}
		rows = append(rows, a, b)
	}
	return toyworld.Grid(rows, 4, 2)
}

func trainingMD(vae *diffusion.AutoencoderKL, st autoencoder.State, scale float64, r *autoencoder.Report, evalTime time.Duration) string {
	b, _ := backend.Default()
	var sb strings.Builder
	s := st.Settings
	fmt.Fprintf(&sb, "# Toy-world autoencoder: how it was trained\n\n")
	env := "GOEXPERIMENT=simd"
	if g := os.Getenv("GODEBUG"); g != "" {
		env = "GODEBUG=" + g + " " + env
	}
	fmt.Fprintf(&sb, "Trained by `%s go run ./examples/toyvae %s` (%s).\n\n", env, strings.Join(os.Args[1:], " "), time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(&sb, "- backend: %s, %d cores, %s/%s\n", b.Description(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
	cfg := vae.Config()
	params := 0
	for v := range vae.Store().IterVariables() {
		if strings.HasPrefix(v.Path(), diffusion.VAEScope+"/") { // not the optimiser's state
			params += v.Shape().Size()
		}
	}
	fmt.Fprintf(&sb, "- model: AutoencoderKL, block_out_channels %v, layers_per_block %d, latent_channels %d, norm_num_groups %d, act_fn %s, mid_block_add_attention %v; %.2fM parameters\n",
		cfg.BlockOutChannels, cfg.LayersPerBlock, cfg.LatentChannels, cfg.NormNumGroups, cfg.ActFn, cfg.MidBlockAddAttention, float64(params)/1e6)
	fmt.Fprintf(&sb, "- settings: %+v\n", s)
	fmt.Fprintf(&sb, "- steps: %d of %d (%d fresh renders); training wall time %s (compilation included)\n", st.Step, s.Steps, st.Step*s.Batch, time.Duration(st.Seconds*float64(time.Second)).Round(time.Second))
	fmt.Fprintf(&sb, "- scaling_factor: %.5f, 1/std of posterior samples of %d held-out renders GenericScene(2^42+2^30+i)\n\n", scale, scaleImages)
	fmt.Fprintf(&sb, "Loss by tenths of the run (mean L1 per pixel in [-1, 1]; KL per latent number):\n\n| steps | loss | L1 | KL |\n|---|---|---|---|\n")
	n := len(st.Losses)
	for k := range 10 {
		lo, hi := k*n/10, (k+1)*n/10
		if hi <= lo {
			continue
		}
		var m [3]float64
		for _, l := range st.Losses[lo:hi] {
			for i := range 3 {
				m[i] += float64(l[i]) / float64(hi-lo)
			}
		}
		fmt.Fprintf(&sb, "| %d–%d | %.4f | %.4f | %.3f |\n", lo+1, hi, m[0], m[1], m[2])
	}
	if r != nil {
		fmt.Fprintf(&sb, "\nRound trip (encode to the posterior mean, decode) of %d held-out renders: %d generic scenes GenericScene(2^42+i) and %d subject scenes (each subject equally, only in contexts outside its reference photos); %s:\n\n",
			r.N, r.N-r.Subjects, r.Subjects, evalTime.Round(time.Second))
		fmt.Fprintf(&sb, "| measure | value |\n|---|---|\n")
		fmt.Fprintf(&sb, "| PSNR, generic scenes | %.2f dB |\n| PSNR, subject scenes | %.2f dB |\n| PSNR, inside the subject's box | %.2f dB |\n", r.PSNRGeneric, r.PSNRSubjects, r.PSNRSubjectBox)
		fmt.Fprintf(&sb, "| judge agrees with itself on the original: context | %.4f |\n| class | %.4f |\n| colour | %.4f |\n", r.Agreement["context"], r.Agreement["class"], r.Agreement["colour"])
		fmt.Fprintf(&sb, "| subject recognised in the round trip, where it is in the original | %.4f (of %d) |\n", r.SubjectKept, r.SubjectSeen)
		fmt.Fprintf(&sb, "\nroundtrip.png: rows of renders, each above its round trip (two of each subject, then generic scenes), 4× nearest-neighbour.\n")
	}
	return sb.String()
}
