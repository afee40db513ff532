package imaging

import "fmt"

// Crop returns the w×h window of src whose top-left corner is (x0, y0); parts of the window
// outside src are black (zero), as when transformers pads before cropping.
func Crop(src *RGB, x0, y0, w, h int) (*RGB, error) {
	if src == nil {
		return nil, fmt.Errorf("imaging: crop: nil image")
	}
	if w < 1 || h < 1 {
		return nil, fmt.Errorf("imaging: crop to %dx%d: width and height must be > 0", w, h)
	}
	out := NewRGB(w, h)
	// Intersection of the window with the source, in source coordinates.
	xa, xb := max(x0, 0), min(x0+w, src.W)
	ya, yb := max(y0, 0), min(y0+h, src.H)
	if xa >= xb || ya >= yb {
		return out, nil
	}
	for y := ya; y < yb; y++ {
		copy(out.Pix[3*((y-y0)*w+(xa-x0)):], src.Pix[3*(y*src.W+xa):3*(y*src.W+xb)])
	}
	return out, nil
}

// CenterCrop returns the centred w×h window of src as transformers' image_transforms.center_crop
// places it: the top-left corner is at ((W-w)//2, (H-h)//2) with Python's floor division, so an
// odd surplus leaves the extra pixel on the right/bottom; where the window is larger than the
// image the image is zero-padded, with the extra padding pixel of an odd difference on the
// left/top (numpy backend; transformers' torchvision backend puts it on the right/bottom).
func CenterCrop(src *RGB, w, h int) (*RGB, error) {
	if src == nil {
		return nil, fmt.Errorf("imaging: center crop: nil image")
	}
	return Crop(src, floorDiv2(src.W-w), floorDiv2(src.H-h), w, h)
}

// floorDiv2 is Python's n // 2.
func floorDiv2(n int) int {
	if n >= 0 {
		return n / 2
	}
	return -((-n + 1) / 2)
}

// CenterCropTorch is CenterCrop as transformers' torchvision backend places the window: the same
// where the image is larger than the window, but where it is smaller the extra padding pixel of an
// odd difference goes on the right/bottom (torchvision pads (d//2, (d+1)//2)).
func CenterCropTorch(src *RGB, w, h int) (*RGB, error) {
	if src == nil {
		return nil, fmt.Errorf("imaging: center crop: nil image")
	}
	off := func(in, out int) int {
		if in >= out {
			return (in - out) / 2
		}
		return -((out - in) / 2)
	}
	return Crop(src, off(src.W, w), off(src.H, h), w, h)
}
