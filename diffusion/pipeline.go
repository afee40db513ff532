package diffusion

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/gorpo/gorpo/internal/imaging"
	"github.com/gorpo/gorpo/internal/safetensors"
	"github.com/gorpo/gorpo/schedule"
)

// Pipeline is Stable Diffusion's text-to-image pipeline, diffusers' StableDiffusionPipeline:
// prompts in, images out, with classifier-free guidance. LoadPipeline fills it from a diffusers
// folder; a struct literal assembles one from loaded parts (a trainer swaps in the U-Net it
// fine-tunes: the pipeline reads the U-Net's Store at every call, so it always samples the
// current weights).
//
// For each batch of prompts, Generate follows diffusers:
//
//  1. tokenize each prompt and negative prompt padded to the tokenizer's max length (77) and
//     encode them with the text encoder (its last hidden state, or an earlier layer's with
//     ClipSkip);
//  2. draw the starting latents x_T ~ N(0, I)·init_noise_sigma, each image from its own seed;
//  3. for each timestep t of the sampler: run the U-Net once on the unconditional and the
//     conditional rows together (scale_model_input applied), combine
//     ε = ε_uncond + w·(ε_cond − ε_uncond), and step the sampler (which reads the U-Net's output
//     as ε, v or x₀ per its prediction_type);
//  4. decode x_0 / scaling_factor with the VAE and post-process to 8-bit RGB: clamp(x/2 + 0.5,
//     0, 1)·255, rounded.
//
// A pixel-space pipeline (VAE nil) skips the decoding: the U-Net's samples are the images.
// GenerateLatents stops after step 3 and GenerateTensors after the decoding, for code that
// trains on the results. The methods may be called from several goroutines; the models run
// one call at a time.
type Pipeline struct {
	UNet        *UNet
	VAE         *AutoencoderKL // nil: the U-Net works on pixels
	TextEncoder *TextEncoder
	Tokenizer   *CLIPTokenizer
	// Scheduler is the default sampler's configuration (the folder's
	// scheduler/scheduler_config.json); the Scheduler and SchedulerClass options override it.
	Scheduler schedule.Config
	// Notes lists what LoadPipeline skipped and why (a safety checker, ...).
	Notes []string
}

// Independent PCG streams of an image's seed: its starting latents and its sampler's noise.
const (
	latentStream  = 0x6c6174656e74_7854 // "latent" xT
	samplerStream = 0x73616d706c65_7273 // "sample" rs
)

// check returns an error unless the components fit together.
func (p *Pipeline) check() error {
	switch {
	case p.UNet == nil:
		return errors.New("no U-Net")
	case p.TextEncoder == nil:
		return errors.New("no text encoder")
	case p.Tokenizer == nil:
		return errors.New("no tokenizer")
	}
	u, te := p.UNet.Config(), p.TextEncoder.Config()
	if u.OutChannels != u.InChannels {
		return fmt.Errorf("unet: out_channels %d, want in_channels (%d): the sampler steps the sample the U-Net predicts for",
			u.OutChannels, u.InChannels)
	}
	cross := []int{u.CrossAttentionDim.Value}
	if u.CrossAttentionDim.IsList() {
		cross = u.CrossAttentionDim.List
	}
	for _, d := range cross {
		if d != te.HiddenSize {
			return fmt.Errorf("unet: cross_attention_dim %v, want the text encoder's hidden_size (%d)", u.CrossAttentionDim, te.HiddenSize)
		}
	}
	switch {
	case p.VAE != nil && p.VAE.Config().LatentChannels != u.InChannels:
		return fmt.Errorf("unet: in_channels %d, want the VAE's latent_channels (%d)", u.InChannels, p.VAE.Config().LatentChannels)
	case p.VAE == nil && u.InChannels != 3:
		return fmt.Errorf("unet: in_channels %d without a VAE, want 3: a pixel-space U-Net denoises RGB images", u.InChannels)
	}
	for _, id := range []int{p.Tokenizer.BOS(), p.Tokenizer.EOS(), p.Tokenizer.Pad()} {
		if id >= te.VocabSize {
			return fmt.Errorf("tokenizer: special token id %d, want < the text encoder's vocab_size (%d)", id, te.VocabSize)
		}
	}
	return nil
}

// ScaleFactor is how many pixels one latent covers along each side: 2^(len(block_out_channels)-1)
// of the VAE (8 for Stable Diffusion), or 1 in pixel space.
func (p *Pipeline) ScaleFactor() int {
	if p.VAE == nil {
		return 1
	}
	return 1 << (len(p.VAE.Config().BlockOutChannels) - 1)
}

// DefaultSize is the image size generated without the Size option: the U-Net's sample_size
// (one number, or [height, width]) times ScaleFactor.
func (p *Pipeline) DefaultSize() (height, width int, err error) {
	s := p.UNet.Config().SampleSize
	switch {
	case s == nil:
		return 0, 0, errors.New("pipeline: the U-Net's config.json has no sample_size: give Size")
	case s.IsList() && len(s.List) == 2:
		height, width = s.List[0], s.List[1]
	case s.IsList():
		return 0, 0, fmt.Errorf("pipeline: the U-Net's sample_size is %v, want one number or [height, width]: give Size", s)
	default:
		height, width = s.Value, s.Value
	}
	f := p.ScaleFactor()
	return height * f, width * f, nil
}

// Generate turns prompts into 8-bit RGB images (opaque; *imaging.RGB of gorpo's internal
// imaging package, which image/png and image/draw take as any image.Image), one per prompt and
// ImagesPerPrompt, in prompt order. See Pipeline for the steps and the
// options for their settings; every image is reproducible from its seed (Seed, Seeds).
//
// ctx is checked before every denoising step: a cancelled call returns an error wrapping
// ctx.Err() after at most one U-Net call.
func (p *Pipeline) Generate(ctx context.Context, prompts []string, opts ...Option) ([]image.Image, error) {
	pixels, shape, err := p.generate(ctx, prompts, opts, true)
	if err != nil {
		return nil, err
	}
	return ImagesFromNCHW(pixels, shape)
}

// GenerateTensors is Generate returning the decoded images as floats, [n, channels, height,
// width] (NCHW, row-major, nominally in [-1, 1] and not clamped) with that shape: the VAE's
// output (or the U-Net's samples in pixel space) before post-processing.
func (p *Pipeline) GenerateTensors(ctx context.Context, prompts []string, opts ...Option) ([]float32, [4]int, error) {
	return p.generate(ctx, prompts, opts, true)
}

// GenerateLatents is Generate stopping before the VAE: the denoised latents x_0 as the U-Net
// sees them (scaled by the VAE's scaling_factor), [n, in_channels, height/f, width/f] (NCHW,
// f = ScaleFactor), with that shape. DecodeLatents turns them into images.
func (p *Pipeline) GenerateLatents(ctx context.Context, prompts []string, opts ...Option) ([]float32, [4]int, error) {
	return p.generate(ctx, prompts, opts, false)
}

// DecodeLatents decodes latents in the U-Net's space ([n, in_channels, h, w], NCHW): divided by
// the VAE's scaling_factor, through the VAE's decoder, to [n, channels, h·f, w·f] nominally in
// [-1, 1]. In pixel space it returns a copy of latents.
func (p *Pipeline) DecodeLatents(ctx context.Context, latents []float32, shape [4]int) ([]float32, [4]int, error) {
	if p.VAE == nil {
		if err := checkHostShape("pipeline: latents", len(latents), shape[:]...); err != nil {
			return nil, shape, err
		}
		return append([]float32(nil), latents...), shape, nil
	}
	z := make([]float32, len(latents))
	scale := float32(p.VAE.ScalingFactor())
	for i, v := range latents {
		z[i] = v / scale
	}
	out, outShape, err := p.VAE.Decode(ctx, z, shape)
	if err != nil {
		return nil, outShape, fmt.Errorf("pipeline: %w", err)
	}
	return out, outShape, nil
}

// EncodePixels turns images [n, 3, height, width] (NCHW, in [-1, 1]) into what a pixel-space
// U-Net denoises: a copy of the images themselves. Pipelines with a VAE encode with it instead
// (AutoencoderKL.Encode, then the scaling factor).
func (p *Pipeline) EncodePixels(pixels []float32, shape [4]int) ([]float32, [4]int, error) {
	if p.VAE != nil {
		return nil, shape, errors.New("pipeline: EncodePixels on a pipeline with a VAE: encode with the VAE")
	}
	if err := checkHostShape("pipeline: images", len(pixels), shape[:]...); err != nil {
		return nil, shape, err
	}
	return append([]float32(nil), pixels...), shape, nil
}

// EncodePrompts is the text side of every denoising call of Generate: the prompts tokenized
// (padded and truncated to the tokenizer's model_max_length) and encoded, with clipSkip as the
// ClipSkip option gives it (0: the last layer), into the U-Net's encoder_hidden_states
// [n, tokens, width]. Training code that conditions a U-Net the way this pipeline will sample it
// can compare against it.
func (p *Pipeline) EncodePrompts(ctx context.Context, prompts []string, clipSkip int) ([]float32, [3]int, error) {
	ids, _ := p.Tokenizer.BatchEncode(prompts)
	states, stShape, err := p.TextEncoder.Encode(ctx, ids, WithClipSkip(clipSkip))
	if err != nil {
		return nil, [3]int{}, fmt.Errorf("pipeline: %w", err)
	}
	if len(stShape) != 3 {
		return nil, [3]int{}, fmt.Errorf("pipeline: text encoder output shape %v, want [batch, tokens, width]", stShape)
	}
	return states, [3]int{stShape[0], stShape[1], stShape[2]}, nil
}

// ImagesFromNCHW post-processes images [n, 3, height, width] (NCHW, values in [-1, 1]) into n
// 8-bit RGB images as diffusers' image processor does: clamp(x/2 + 0.5, 0, 1)·255, rounded half
// to even.
func ImagesFromNCHW(pixels []float32, shape [4]int) ([]image.Image, error) {
	if err := checkHostShape("pipeline: images", len(pixels), shape[:]...); err != nil {
		return nil, err
	}
	if shape[1] != 3 {
		return nil, fmt.Errorf("pipeline: images of shape %v, want 3 channels (RGB, NCHW)", shape)
	}
	n := 3 * shape[2] * shape[3]
	out := make([]image.Image, shape[0])
	for i := range out {
		m, err := imaging.FromSignedCHW(pixels[i*n:(i+1)*n], shape[3], shape[2])
		if err != nil {
			return nil, fmt.Errorf("pipeline: image %d: %w", i, err)
		}
		out[i] = m
	}
	return out, nil
}

// WritePNGs writes images as PNG files dir/<prefix><i>.png, i zero-padded to four digits
// ("sample-0000.png" for prefix "sample-"), creating dir if needed, and returns their paths.
// Each file is written to a temporary file and renamed into place, so no file is ever
// half-written; an existing file of the same name is replaced.
func WritePNGs(dir, prefix string, images []image.Image) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	paths := make([]string, 0, len(images))
	for i, img := range images {
		if img == nil {
			return paths, fmt.Errorf("pipeline: writing PNGs: image %d is nil", i)
		}
		path := filepath.Join(dir, fmt.Sprintf("%s%04d.png", prefix, i))
		if err := safetensors.WriteAtomic(path, func(w io.Writer) error { return png.Encode(w, img) }); err != nil {
			return paths, fmt.Errorf("pipeline: %w", err)
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// request is one generation call's plan: an entry per image and the resolved options.
type request struct {
	prompts, negatives []string
	seeds              []uint64
	o                  genOptions
	sched              schedule.Config
	guided             bool
	latent             [3]int // channels, height, width of one latent
	batches            int
}

// prepare validates the prompts and options and expands them into one entry per image.
func (p *Pipeline) prepare(prompts []string, opts []Option) (*request, error) {
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	o := defaultOptions()
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if len(o.optionErrs) > 0 {
		return nil, fmt.Errorf("pipeline: %w", errors.Join(o.optionErrs...))
	}
	if len(prompts) == 0 {
		return nil, errors.New("pipeline: no prompts")
	}
	if len(o.negatives) > len(prompts) {
		return nil, fmt.Errorf("pipeline: %d negative prompts for %d prompts, want at most one per prompt", len(o.negatives), len(prompts))
	}
	r := &request{o: o, guided: o.guidance > 1}
	for i, prompt := range prompts {
		neg := o.negative
		if i < len(o.negatives) {
			neg = o.negatives[i]
		}
		for range o.perPrompt {
			r.prompts = append(r.prompts, prompt)
			r.negatives = append(r.negatives, neg)
		}
	}
	n := len(r.prompts)
	switch {
	case o.seeds == nil:
		for i := range n {
			r.seeds = append(r.seeds, o.seed+uint64(i))
		}
	case len(o.seeds) != n:
		return nil, fmt.Errorf("pipeline: %d seeds for %d images (%d prompts × %d per prompt), want one per image",
			len(o.seeds), n, len(prompts), o.perPrompt)
	default:
		r.seeds = o.seeds
	}

	height, width := o.height, o.width
	if height == 0 && width == 0 {
		var err error
		if height, width, err = p.DefaultSize(); err != nil {
			return nil, err
		}
	}
	f := p.ScaleFactor()
	if height <= 0 || width <= 0 || height%f != 0 || width%f != 0 {
		return nil, fmt.Errorf("pipeline: size %d×%d (height×width), want positive multiples of %d (the VAE's scale factor)", height, width, f)
	}
	r.latent = [3]int{p.UNet.Config().InChannels, height / f, width / f}

	r.sched = p.Scheduler
	switch {
	case o.sched != nil:
		r.sched = *o.sched
	case o.schedClass != "":
		var err error
		if r.sched, err = p.Scheduler.As(o.schedClass); err != nil {
			return nil, fmt.Errorf("pipeline: %w", err)
		}
	}
	// Build one sampler now, so that a bad configuration or step count fails before any work.
	if _, err := r.sampler(0); err != nil {
		return nil, err
	}
	r.batches = (n + o.batch - 1) / o.batch
	return r, nil
}

// sampler builds image i's sampler, its timesteps set and its noise drawn from its seed.
func (r *request) sampler(i int) (schedule.Sampler, error) {
	s, err := schedule.FromConfig(r.sched)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	if d, ok := s.(*schedule.DDIM); ok && r.o.eta > 0 {
		if err := d.SetEta(r.o.eta); err != nil {
			return nil, fmt.Errorf("pipeline: %w", err)
		}
	}
	if st, ok := s.(schedule.Stochastic); ok {
		st.SetRand(rand.New(rand.NewPCG(r.seeds[i], samplerStream)))
	}
	if err := s.SetTimesteps(r.o.steps); err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	return s, nil
}

// generate runs the request batch by batch: latents, or images when decode is set.
func (p *Pipeline) generate(ctx context.Context, prompts []string, opts []Option, decode bool) ([]float32, [4]int, error) {
	r, err := p.prepare(prompts, opts)
	if err != nil {
		return nil, [4]int{}, err
	}
	n := len(r.prompts)
	var out []float32
	var shape [4]int
	done := 0
	for b := range r.batches {
		from, to := b*r.o.batch, min((b+1)*r.o.batch, n)
		x, err := p.denoise(ctx, r, from, to, &done)
		if err != nil {
			return nil, [4]int{}, err
		}
		xShape := [4]int{to - from, r.latent[0], r.latent[1], r.latent[2]}
		if decode {
			if x, xShape, err = p.DecodeLatents(ctx, x, xShape); err != nil {
				return nil, [4]int{}, err
			}
		}
		if out == nil {
			out = make([]float32, 0, n*len(x)/(to-from))
		}
		out = append(out, x...)
		shape = [4]int{n, xShape[1], xShape[2], xShape[3]}
	}
	return out, shape, nil
}

// denoise runs the sampling loop for images [from, to) of r and returns their latents x_0
// (NCHW). done counts the steps over the whole call, for Progress.
func (p *Pipeline) denoise(ctx context.Context, r *request, from, to int, done *int) ([]float32, error) {
	b := to - from
	c, h, w := r.latent[0], r.latent[1], r.latent[2]
	size := c * h * w

	// The text: [negatives; prompts] when guided (diffusers' order), else the prompts.
	texts := r.prompts[from:to]
	if r.guided {
		texts = append(append([]string(nil), r.negatives[from:to]...), texts...)
	}
	states, ctxShape, err := p.EncodePrompts(ctx, texts, r.o.clipSkip)
	if err != nil {
		return nil, err
	}

	// One sampler and one starting latent per image, from its seed.
	samplers := make([]schedule.Sampler, b)
	x := make([][]float32, b)
	for i := range b {
		if samplers[i], err = r.sampler(from + i); err != nil {
			return nil, err
		}
		sigma := samplers[i].InitNoiseSigma()
		rng := rand.New(rand.NewPCG(r.seeds[from+i], latentStream))
		x[i] = make([]float32, size)
		for j := range x[i] {
			x[i][j] = float32(rng.NormFloat64() * sigma)
		}
	}

	rows := b
	if r.guided {
		rows = 2 * b
	}
	in := make([]float32, rows*size)
	timesteps := samplers[0].Timesteps()
	total := len(timesteps) * r.batches
	guidance := float32(r.o.guidance)
	for _, t := range timesteps {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("pipeline: stopped before step %d of %d: %w", *done+1, total, err)
		}
		for i := range b {
			xin, err := samplers[i].ScaleModelInput(x[i], t)
			if err != nil {
				return nil, fmt.Errorf("pipeline: %w", err)
			}
			copy(in[i*size:], xin)
			if r.guided {
				copy(in[(b+i)*size:], xin)
			}
		}
		eps, err := p.UNet.Predict(ctx, in, [4]int{rows, c, h, w}, []float64{t}, states, ctxShape)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("pipeline: stopped at step %d of %d: %w", *done+1, total, ctx.Err())
			}
			return nil, fmt.Errorf("pipeline: step %d of %d: %w", *done+1, total, err)
		}
		for i := range b {
			e := eps[i*size : (i+1)*size]
			if r.guided {
				cond := eps[(b+i)*size : (b+i+1)*size]
				guided := make([]float32, size)
				for j := range guided {
					guided[j] = e[j] + guidance*(cond[j]-e[j])
				}
				e = guided
			}
			if x[i], err = samplers[i].Step(e, t, x[i]); err != nil {
				return nil, fmt.Errorf("pipeline: %w", err)
			}
		}
		*done++
		if r.o.progress != nil {
			r.o.progress(*done, total)
		}
	}
	out := make([]float32, 0, b*size)
	for i := range b {
		out = append(out, x[i]...)
	}
	return out, nil
}
