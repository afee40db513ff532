package diffusion

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gorpo/gorpo/internal/fixtures"
	"github.com/gorpo/gorpo/internal/safetensors"
)

func vaeShape4(t testing.TB, name string, s []int) [4]int {
	t.Helper()
	if len(s) != 4 {
		t.Fatalf("%s: shape %v, want rank 4", name, s)
	}
	return [4]int{s[0], s[1], s[2], s[3]}
}

func TestVAEParity(t *testing.T) {
	io := fixtures.IO(t, "vae")
	v, err := LoadVAE(fixtures.Path(t, "parity", "vae"))
	if err != nil {
		t.Fatal(err)
	}
	image, imageShape := fixtures.Float32(t, io, "image")
	latent, latentShape := fixtures.Float32(t, io, "latent")
	wantMean, meanShape := fixtures.Float32(t, io, "latent_mean")
	wantLogvar, _ := fixtures.Float32(t, io, "latent_logvar")
	wantDecoded, decodedShape := fixtures.Float32(t, io, "decoded")

	mean, logvar, gotShape, err := v.Encode(context.Background(), image, vaeShape4(t, "image", imageShape))
	if err != nil {
		t.Fatal(err)
	}
	if gotShape != vaeShape4(t, "latent_mean", meanShape) {
		t.Fatalf("latent shape %v, want %v", gotShape, meanShape)
	}
	decoded, gotImageShape, err := v.Decode(context.Background(), latent, vaeShape4(t, "latent", latentShape))
	if err != nil {
		t.Fatal(err)
	}
	if gotImageShape != vaeShape4(t, "decoded", decodedShape) {
		t.Fatalf("decoded shape %v, want %v", gotImageShape, decodedShape)
	}
	for _, c := range []struct {
		name      string
		got, want []float32
	}{{"latent_mean", mean, wantMean}, {"latent_logvar", logvar, wantLogvar}, {"decoded", decoded, wantDecoded}} {
		e := fixtures.RelErr(c.got, c.want)
		t.Logf("vae %s: max|a-b|/max|b| = %.3g", c.name, e)
		if e > 1e-4 {
			t.Errorf("vae %s: relative error %.3g > 1e-4", c.name, e)
		}
	}
}

// Posterior samples are seeded: the same seed gives the same latent, another seed another one,
// and their spread follows exp(logvar/2).
func TestVAESample(t *testing.T) {
	v := &AutoencoderKL{}
	n := 20000
	mean := make([]float32, n)
	logvar := make([]float32, n)
	for i := range mean {
		mean[i] = 0.5
		logvar[i] = float32(math.Log(0.25)) // std 0.5
	}
	a, err := v.Sample(mean, logvar, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := v.Sample(mean, logvar, 7)
	c, _ := v.Sample(mean, logvar, 8)
	var sum, sq float64
	same, differ := true, false
	for i := range a {
		same = same && a[i] == b[i]
		differ = differ || a[i] != c[i]
		sum += float64(a[i])
		sq += (float64(a[i]) - 0.5) * (float64(a[i]) - 0.5)
	}
	if !same || !differ {
		t.Fatalf("seeding: same seed equal %v, other seed differs %v", same, differ)
	}
	if m, s := sum/float64(n), math.Sqrt(sq/float64(n)); math.Abs(m-0.5) > 0.02 || math.Abs(s-0.5) > 0.02 {
		t.Fatalf("sample mean %.3f std %.3f, want 0.5 and 0.5", m, s)
	}
	if _, err := v.Sample(mean, logvar[:1], 1); err == nil {
		t.Fatal("mismatched lengths accepted")
	}
}

// Save writes the upstream names and LoadVAE reads them back to the same model; checkpoints
// with the pre-0.14 attention names (query, key, value, proj_attn) load to the same model too.
func TestVAESaveAndLegacyNames(t *testing.T) {
	dir := fixtures.Path(t, "parity", "vae")
	io := fixtures.IO(t, "vae")
	image, s := fixtures.Float32(t, io, "image")
	shape := vaeShape4(t, "image", s)
	v, err := LoadVAE(dir)
	if err != nil {
		t.Fatal(err)
	}
	wantMean, _, _, err := v.Encode(context.Background(), image, shape)
	if err != nil {
		t.Fatal(err)
	}
	orig, err := safetensors.Open(filepath.Join(dir, "diffusion_pytorch_model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}

	saved := filepath.Join(t.TempDir(), "vae")
	if err := v.Save(saved); err != nil {
		t.Fatal(err)
	}
	back, err := safetensors.Open(filepath.Join(saved, "diffusion_pytorch_model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back.Names(), orig.Names()) {
		t.Fatalf("saved names %v, want %v", back.Names(), orig.Names())
	}

	legacy := copyConfigDir(t, dir)
	rename := strings.NewReplacer(".to_q.", ".query.", ".to_k.", ".key.", ".to_v.", ".value.", ".to_out.0.", ".proj_attn.")
	var renamed []*safetensors.Tensor
	for _, name := range orig.Names() {
		tt, _ := orig.Tensor(name)
		c := *tt
		c.Name = rename.Replace(name)
		renamed = append(renamed, &c)
	}
	if err := safetensors.Write(filepath.Join(legacy, "diffusion_pytorch_model.safetensors"), renamed, nil); err != nil {
		t.Fatal(err)
	}
	for name, d := range map[string]string{"saved": saved, "legacy": legacy} {
		v2, err := LoadVAE(d)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		mean, _, _, err := v2.Encode(context.Background(), image, shape)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(mean, wantMean) {
			t.Fatalf("%s: encodes differently (relative error %.3g)", name, fixtures.RelErr(mean, wantMean))
		}
	}
	if _, _, _, err := v.Encode(context.Background(), image, [4]int{shape[0], shape[1] + 1, shape[2], shape[3]}); err == nil {
		t.Fatal("wrong image shape accepted")
	}
}

// NewVAE builds a randomly initialised VAE whose halves fit together.
func TestNewVAE(t *testing.T) {
	cfg := DefaultVAEConfig()
	cfg.BlockOutChannels = []int{8, 8, 16}
	cfg.DownBlockTypes = []string{"DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"}
	cfg.UpBlockTypes = []string{"UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"}
	cfg.NormNumGroups = 4
	cfg.MidBlockAddAttention = false
	cfg.UseQuantConv = false
	v, err := NewVAE(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	if v.Store().GetVariable("/vae/quant_conv/weight") != nil || v.Store().GetVariable("/vae/encoder/mid_block/attentions/0/to_q/weight") != nil {
		t.Fatal("use_quant_conv=false or mid_block_add_attention=false still made the layer")
	}
	image := normalNoise(2*3*16*16, 1)
	mean, logvar, ls, err := v.Encode(context.Background(), image, [4]int{2, 3, 16, 16})
	if err != nil {
		t.Fatal(err)
	}
	if ls != [4]int{2, 4, 4, 4} {
		t.Fatalf("latent shape %v", ls)
	}
	z, err := v.Sample(mean, logvar, 1)
	if err != nil {
		t.Fatal(err)
	}
	out, shape, err := v.Decode(context.Background(), z, ls)
	if err != nil {
		t.Fatal(err)
	}
	if shape != [4]int{2, 3, 16, 16} || len(out) != len(image) {
		t.Fatalf("decoded shape %v", shape)
	}
}
